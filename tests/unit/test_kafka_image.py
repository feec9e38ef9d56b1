"""The kafka service's environment, run through the apache/kafka image's own start-up code.

The pinned image runs ``/etc/kafka/docker/run``: ``bash-config`` (errexit, nounset),
``configureDefaults``, ``configure`` (which refuses SSL and SASL listeners without their files and
KAFKA_OPTS), then ``launch``, whose KafkaDockerWrapper turns every ``KAFKA_*`` variable into a line
of server.properties. These tests run the exact upstream scripts (``../shared/reference``) with their
absolute paths mapped into a temporary root, on the environment compose resolves for the service,
with the files our certs job (ops/deploy/secrets.sh) makes, and read the properties the broker
would start with. No Docker needed; ``test_compose_docker.py`` starts the real images where it can.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference" / "apache-kafka-3.8.0-docker"
SCRIPTS = REFERENCE / "docker" / "resources" / "common-scripts"
WRAPPER = REFERENCE / "core" / "src" / "main" / "scala" / "kafka" / "docker" / "KafkaDockerWrapper.scala"
SECRETS_SCRIPT = ROOT / "ops" / "deploy" / "secrets.sh"
#: .env values for the test (no placeholders: what a user writes into .env)
DOTENV = {name: f"{name.lower()}-0123456789abcdef0123456789" for name in (
    "ELASTIC_PASSWORD", "KIBANA_PASSWORD", "VEIL_WORKER_ES_PASSWORD", "KAFKA_VEIL_PASSWORD", "VEIL_HMAC_KEY",
    "VEIL_PAYLOAD_KEY", "VEIL_DECISIONS_KEY", "VEIL_API_TOKEN")}

pytestmark = pytest.mark.skipif(not SCRIPTS.is_dir(), reason="../shared/reference is not beside the checkout")

_VAR = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation: ${X}, ${X:-default}, ${X-default}, ${X:?error}, ${X?error}, $$."""
    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3)
        value = env.get(name)
        if (op in (":-", ":?") and not value) or (op in ("-", "?") and value is None):
            if op.endswith("?"):
                raise ValueError(f"compose refuses to start: {arg or name}")
            return arg
        return value or ""
    return _VAR.sub(one, value)


def service_env(compose: dict, service: str, dotenv: dict[str, str]) -> dict[str, str]:
    env = compose["services"][service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v), dotenv) for k, v in env.items()}


def mounts(compose: dict, service: str) -> dict[str, str]:
    """Container path -> volume (or host path) of a service."""
    out = {}
    for spec in compose["services"][service].get("volumes", []):
        source, target = spec.split(":")[:2]
        out[target] = source
    return out


def server_properties(env: dict[str, str]) -> dict[str, str]:
    """KafkaDockerWrapper.getServerConfigsFromEnv: KAFKA_X_Y -> x.y ('__' -> '_', '___' -> '-'),
    except the variables it excludes (read from the vendored source, so a change there shows)."""
    excluded = set(re.findall(r'"(KAFKA_[A-Z0-9_]+)"', WRAPPER.read_text().split("val ExcludeServerPropsEnv")[1].split(")")[0]))
    assert "KAFKA_OPTS" in excluded
    props = {}
    for key, value in env.items():
        if key.startswith("KAFKA_") and key not in excluded:
            name = key.replace("KAFKA_", "", 1).lower().replace("_", ".").replace("...", "-").replace("..", "_")
            props[name] = value
    return props


class Image:
    """The image's start-up scripts under ``root``, every absolute path they use moved there."""

    PATHS = ("/etc/kafka/", "/opt/kafka/", "/var/lib/kafka/", "/mnt/shared/")

    def __init__(self, root: Path) -> None:
        self.root = root
        for path in self.PATHS:
            (root / path.strip("/")).mkdir(parents=True, exist_ok=True)
        (root / "opt/kafka/config").mkdir(parents=True, exist_ok=True)
        docker = root / "etc/kafka/docker"
        docker.mkdir(parents=True, exist_ok=True)
        for name in ("bash-config", "configureDefaults", "configure"):
            text = (SCRIPTS / name).read_text()
            for path in self.PATHS:
                text = text.replace(path, f"{root}{path}")
            (docker / name).write_text(text)

    def host(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def container(self, host_path: str) -> str:
        return host_path.replace(str(self.root), "", 1)

    def configure(self, env: dict[str, str]) -> subprocess.CompletedProcess:
        """``run`` up to ``launch``: the environment the wrapper would see, printed NUL-separated."""
        docker = self.root / "etc/kafka/docker"
        env_file = self.root / "env.out"
        script = (f". {docker}/bash-config\n. {docker}/configureDefaults\n. {docker}/configure\n"
                  f"env -0 > {env_file}\n")
        proc = subprocess.run(["bash", "-c", script], env={"PATH": os.environ["PATH"], **env},
                              capture_output=True, text=True)
        final = env_file.read_text() if proc.returncode == 0 else ""
        proc.final_env = dict(item.split("=", 1) for item in final.split("\0") if "=" in item)  # type: ignore[attr-defined]
        return proc


def run_secrets_job(compose: dict, volumes: dict[str, Path], dotenv: dict[str, str], tmp: Path) -> None:
    """ops/deploy/secrets.sh as the certs service runs it, its volumes under ``volumes``, with a
    stand-in for elasticsearch-certutil that makes real certificates and a real PKCS#12 keystore
    (the certutil arguments the script passes are its contract)."""
    root = tmp / "secrets-root"
    certs = mounts(compose, "certs")
    for target, source in certs.items():
        if target.startswith("/secrets/"):
            (root / target.removeprefix("/secrets/")).parent.mkdir(parents=True, exist_ok=True)
            (root / target.removeprefix("/secrets/")).symlink_to(volumes[source], target_is_directory=True)
    fake = tmp / "certutil"
    fake.write_text(f"#!{sys.executable}\n" + CERTUTIL)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": os.environ["PATH"], "SECRETS_ROOT": str(root), "CERTUTIL": str(fake),
           **service_env(compose, "certs", dotenv)}
    proc = subprocess.run(["bash", str(SECRETS_SCRIPT)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


CERTUTIL = r'''
import argparse, datetime, io, sys, zipfile
from pathlib import Path
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

p = argparse.ArgumentParser()
p.add_argument("mode", choices=["ca", "cert"])
p.add_argument("--silent", action="store_true"); p.add_argument("--pem", action="store_true")
p.add_argument("--ca-cert"); p.add_argument("--ca-key"); p.add_argument("--name", default="instance")
p.add_argument("--dns", default=""); p.add_argument("--pass", dest="password", default=None)
p.add_argument("--out", required=True)
a = p.parse_args()
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Elastic Certificate Tool Autogenerated CA" if a.mode == "ca" else a.name)])
pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
if a.mode == "ca":
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    folder = "ca"
else:
    ca_cert = x509.load_pem_x509_certificate(Path(a.ca_cert).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(a.ca_key).read_bytes(), None)
    sans = [x509.DNSName(d) for d in a.dns.split(",") if d]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False).sign(ca_key, hashes.SHA256()))
    folder = a.name
if a.pem:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{folder}/{folder}.crt", cert.public_bytes(serialization.Encoding.PEM))
        z.writestr(f"{folder}/{folder}.key", pem_key)
    Path(a.out).write_bytes(buf.getvalue())
else:
    if a.password is None:
        sys.exit("certutil would prompt for the PKCS#12 password")
    enc = serialization.BestAvailableEncryption(a.password.encode()) if a.password else serialization.NoEncryption()
    extra = [x509.load_pem_x509_certificate(Path(a.ca_cert).read_bytes())] if a.ca_cert else None
    Path(a.out).write_bytes(pkcs12.serialize_key_and_certificates(a.name.encode(), key, cert, extra, enc))
'''


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture()
def deployed(compose, tmp_path):
    """The certs job run into fresh volumes, and the kafka image's root with its mounts in place."""
    volumes = {name: tmp_path / "volumes" / name for name in compose.get("volumes", {})}
    for path in volumes.values():
        path.mkdir(parents=True)
    run_secrets_job(compose, volumes, DOTENV, tmp_path)
    image = Image(tmp_path / "kafka-root")
    for target, source in mounts(compose, "kafka").items():
        host = image.host(target)
        if host.exists():
            host.rmdir()
        host.parent.mkdir(parents=True, exist_ok=True)
        host.symlink_to(volumes[source], target_is_directory=True)
    return image, volumes


def test_the_image_accepts_the_kafka_service_environment(compose, deployed):
    image, volumes = deployed
    env = service_env(compose, "kafka", DOTENV)
    proc = image.configure(env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SSL is enabled." in proc.stdout and "SASL is enabled." in proc.stdout
    props = server_properties(proc.final_env)

    # listeners: SASL_SSL for clients under the name they connect to; everything else on loopback
    assert props["listeners"].split(",")[0] == "SASL_SSL://:9094"
    assert "SASL_SSL://kafka:9094" in props["advertised.listeners"].split(",")
    assert "SASL_SSL:SASL_SSL" in props["listener.security.protocol.map"].split(",")
    worker = service_env(compose, "veil-worker", DOTENV)
    assert worker["VEIL_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9094" and worker["VEIL_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"

    # SASL: the workers' mechanism is enabled, and their user is in the JAAS file KAFKA_OPTS names
    assert worker["VEIL_KAFKA__SASL_MECHANISM"] in props["sasl.enabled.mechanisms"].split(",")
    jaas = re.search(r"java\.security\.auth\.login\.config=(\S+)", proc.final_env["KAFKA_OPTS"]).group(1)
    assert jaas.startswith("/etc/kafka/secrets/")  # KAFKA_OPTS is the JVM's: not mapped, the mount is
    text = image.host(jaas).read_text()
    assert re.search(r"KafkaServer\s*\{\s*org\.apache\.kafka\.common\.security\.plain\.PlainLoginModule required", text)
    assert f'user_{worker["VEIL_KAFKA__SASL_USERNAME"]}="{worker["VEIL_KAFKA__SASL_PASSWORD"]}";' in text

    # keystore: where the broker reads it, opened by the passwords the image read from their files,
    # with a certificate for the host the workers connect to, signed by the CA they trust
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    assert props["ssl.keystore.type"] == "PKCS12"
    assert image.container(props["ssl.keystore.location"]) == "/etc/kafka/secrets/kafka.keystore.p12"
    keystore = Path(props["ssl.keystore.location"])
    assert keystore.is_file()
    assert props["ssl.keystore.password"] == props["ssl.key.password"] and len(props["ssl.key.password"]) >= 32
    key, cert, _chain = pkcs12.load_key_and_certificates(keystore.read_bytes(), props["ssl.keystore.password"].encode())
    assert key is not None and cert is not None
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert worker["VEIL_KAFKA__BOOTSTRAP_SERVERS"].split(":")[0] in names
    ca_path = worker["VEIL_KAFKA__SSL_CA_FILE"]
    worker_mounts = mounts(compose, "veil-worker")
    volume = next(v for target, v in worker_mounts.items() if ca_path.startswith(target + "/"))
    ca_target = next(t for t, v in worker_mounts.items() if v == volume)
    ca = x509.load_pem_x509_certificate((volumes[volume] / ca_path.removeprefix(ca_target + "/")).read_bytes())
    assert cert.issuer == ca.subject

    # data on the volume
    assert props["log.dirs"] == "/var/lib/kafka/data"
    assert mounts(compose, "kafka")[props["log.dirs"]] == "kafka-data"


def test_the_image_paths_map_back(deployed):
    """The mapping itself: configure writes the keystore path under the mapped /etc/kafka/secrets."""
    image, _ = deployed
    assert image.container(str(image.root / "etc/kafka/secrets/x")) == "/etc/kafka/secrets/x"


@pytest.mark.parametrize("drop, says", [
    ("KAFKA_OPTS", "KAFKA_OPTS environment variable not set"),
    ("KAFKA_SSL_KEYSTORE_FILENAME", "KAFKA_SSL_KEYSTORE_FILENAME environment variable not set"),
    ("KAFKA_SSL_KEY_CREDENTIALS", "KAFKA_SSL_KEY_CREDENTIALS environment variable not set"),
])
def test_the_image_refuses_an_environment_without_what_sasl_ssl_needs(compose, deployed, drop, says):
    """The harness can fail: the image's own checks, as the old compose file tripped them."""
    image, _ = deployed
    env = service_env(compose, "kafka", DOTENV)
    del env[drop]
    proc = image.configure(env)
    # under the image's nounset, ensure()'s ${!1} on an unset variable ends the script itself
    assert proc.returncode != 0 and (says in proc.stdout or "unbound variable" in proc.stderr), proc.stdout + proc.stderr
    assert "Launching" not in proc.stdout


def test_the_image_refuses_a_keystore_file_that_is_not_there(compose, deployed):
    image, volumes = deployed
    env = service_env(compose, "kafka", DOTENV)
    (volumes["kafka-secrets"] / env["KAFKA_SSL_KEYSTORE_FILENAME"]).unlink()
    proc = image.configure(env)
    assert proc.returncode != 0 and "file does not exist" in proc.stdout


def test_no_credential_is_in_the_kafka_service_and_the_ca_key_stays_in_the_certs_job(compose):
    raw = yaml.safe_dump(compose["services"]["kafka"])
    assert "PASSWORD" not in raw and "JAAS_CONFIG" not in raw
    holders = {name for name, svc in compose["services"].items()
               if any(str(v).split(":")[0] == "ca" for v in svc.get("volumes", []))}
    assert holders == {"certs"}
    for name, volume in (("es-certs", {"certs", "elasticsearch"}), ("kafka-secrets", {"certs", "kafka"})):
        users = {s for s, svc in compose["services"].items() if any(str(v).split(":")[0] == name for v in svc.get("volumes", []))}
        assert users == volume, (name, users)


def test_the_secrets_job_gives_clients_the_ca_certificate_alone(compose, tmp_path):
    volumes = {name: tmp_path / "volumes" / name for name in compose.get("volumes", {})}
    for path in volumes.values():
        path.mkdir(parents=True)
    run_secrets_job(compose, volumes, DOTENV, tmp_path)
    assert sorted(p.name for p in volumes["certs"].iterdir()) == ["ca.crt"]
    assert "PRIVATE KEY" in (volumes["ca"] / "ca.key").read_text()
    for name in ("certs", "es-certs", "kafka-secrets"):
        for path in volumes[name].iterdir():
            assert "PRIVATE KEY" not in path.read_bytes().decode("latin-1") or path.name == "elasticsearch.key", path
    # a password that would break the JAAS file is refused, in one line
    env = {**DOTENV, "KAFKA_VEIL_PASSWORD": 'a"b'}
    with pytest.raises(AssertionError, match="must not contain quotes"):
        run_secrets_job(compose, volumes, env, tmp_path / "again")
