"""Kafka security settings reach every client Veil builds: one function makes librdkafka's
configuration, one Faust's, and the source builds no client any other way."""

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

from veil.composition import client_config
from veil.settings import KafkaSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = {"Producer", "Consumer", "AdminClient"}


def sasl_ssl(**kw) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers="b1:9093,b2:9093", security_protocol="SASL_SSL",
                         sasl_mechanism="SCRAM-SHA-256", sasl_username="veil-worker", sasl_password="s3cret-pw",
                         ssl_ca_file=Path("/etc/veil/ca.pem"), **kw)


def test_sasl_ssl_settings_become_librdkafka_options():
    conf = client_config(sasl_ssl(), {"group.id": "g"})
    assert conf == {"bootstrap.servers": "b1:9093,b2:9093", "security.protocol": "sasl_ssl",
                    "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "veil-worker", "sasl.password": "s3cret-pw",
                    "ssl.endpoint.identification.algorithm": "https", "ssl.ca.location": "/etc/veil/ca.pem",
                    "group.id": "g"}
    mtls = client_config(KafkaSettings(bootstrap_servers="b:9093", security_protocol="SSL", ssl_check_hostname=False,
                                       ssl_cert_file=Path("c.pem"), ssl_key_file=Path("k.pem"), ssl_key_password="kp"))
    assert mtls["security.protocol"] == "ssl" and mtls["ssl.certificate.location"] == "c.pem"
    assert mtls["ssl.key.location"] == "k.pem" and mtls["ssl.key.password"] == "kp"
    assert mtls["ssl.endpoint.identification.algorithm"] == "none" and "sasl.username" not in mtls
    assert client_config("localhost:9092") == {"bootstrap.servers": "localhost:9092"}  # the embedded stack


def test_incomplete_security_settings_are_refused():
    with pytest.raises(ValidationError, match="needs sasl_username and sasl_password"):
        KafkaSettings(security_protocol="SASL_PLAINTEXT", sasl_username="u")
    with pytest.raises(ValidationError, match="go together"):
        KafkaSettings(security_protocol="SSL", ssl_cert_file=Path("c.pem"))
    with pytest.raises(ValidationError):
        KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="GSSAPI", sasl_username="u", sasl_password="p")


def test_the_password_stays_secret_in_the_settings():
    s = Settings(kafka=sasl_ssl().model_dump())
    assert "s3cret-pw" not in repr(s) and "s3cret-pw" not in str(s.kafka)


def test_faust_gets_the_same_broker_and_credentials(tmp_path):
    import faust

    from veil.streams.app import faust_broker

    ca = tmp_path / "ca.pem"
    ca.write_bytes(self_signed_ca())
    opts = faust_broker(sasl_ssl().model_copy(update={"ssl_ca_file": ca}))
    assert opts["broker"] == "kafka://b1:9093;kafka://b2:9093"
    creds = opts["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password, creds.mechanism.value) == ("veil-worker", "s3cret-pw", "SCRAM-SHA-256")
    assert creds.ssl_context is not None and creds.ssl_context.check_hostname
    assert faust_broker(KafkaSettings(bootstrap_servers="h:9092"))["broker_credentials"] is None


def test_every_kafka_client_in_the_source_is_built_through_client_config():
    """Parse every module: each ``Producer(...)``, ``Consumer(...)`` and ``AdminClient(...)`` takes
    ``client_config(...)`` as its configuration, and each ``faust.App(...)`` takes ``**faust_broker(...)``.
    A client built from a literal dict would connect in plaintext whatever the settings say."""
    sites, bad = 0, []
    for folder in ("veil", "streams", "models", "schemas", "training", "ops"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if name in CLIENTS:
                    sites += 1
                    arg = node.args[0] if node.args else None
                    if not (isinstance(arg, ast.Call) and getattr(arg.func, "id", "") == "client_config"):
                        bad.append(where)
                elif name == "App" and isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "faust":
                    sites += 1
                    spread = [k.value for k in node.keywords if k.arg is None]
                    if not any(isinstance(v, ast.Call) and getattr(v.func, "id", "") == "faust_broker" for v in spread):
                        bad.append(where)
    assert sites >= 12  # the workers, sink, outputs, decision share, control, replay, status, admin, demo, bench
    assert bad == []


def self_signed_ca() -> bytes:
    """A real CA certificate (EC P-256), made here."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "veil-test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)
