"""Veil's clients log in to Apache Kafka over SASL (testcontainers; needs a Docker engine).

The broker has one SASL_PLAINTEXT listener with the PLAIN mechanism and two users. With the right
password the preflight passes and a record goes through a producer and a consumer built from the
settings; with a wrong one the preflight says so in one line.
"""

from __future__ import annotations

import socket
import uuid

import pytest

from veil.composition import client_config
from veil.errors import ConfigError
from veil.settings import KafkaSettings

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.slow]

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" '
        'password="admin-secret" user_admin="admin-secret" user_veil="veil-secret";')


@pytest.fixture(scope="module")
def kafka_sasl():
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "KAFKA_NODE_ID": "1", "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"SASL_PLAINTEXT://:{port},CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER", "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "SASL_PLAINTEXT", "KAFKA_SASL_ENABLED_MECHANISMS": "PLAIN",
        "KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL": "PLAIN",
        "KAFKA_LISTENER_NAME_SASL__PLAINTEXT_PLAIN_SASL_JAAS_CONFIG": JAAS,
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    }
    container = DockerContainer("apache/kafka:3.8.0").with_bind_ports(port, port)
    for key, value in env.items():
        container = container.with_env(key, value)
    with container:
        wait_for_logs(container, "Kafka Server started", timeout=180)
        yield f"127.0.0.1:{port}"


def settings(bootstrap: str, password: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap, security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                         sasl_username="veil", sasl_password=password)


def test_with_the_right_password_a_record_goes_through(kafka_sasl):
    from confluent_kafka import Consumer, Producer

    from veil.streams.preflight import check_kafka

    kafka = settings(kafka_sasl, "veil-secret")
    check_kafka(kafka, timeout=60)
    topic = f"sasl-{uuid.uuid4().hex[:6]}"
    producer = Producer(client_config(kafka))
    producer.produce(topic, b"over SASL")
    assert producer.flush(30) == 0
    consumer = Consumer(client_config(kafka, {"group.id": topic, "auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    try:
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                assert msg.value() == b"over SASL"
                break
        else:
            pytest.fail("the record did not come back")
    finally:
        consumer.close()


def test_a_wrong_password_is_one_clear_error(kafka_sasl):
    from veil.streams.preflight import check_kafka

    with pytest.raises(ConfigError, match="refused the credentials of user 'veil' \\(PLAIN\\)"):
        check_kafka(settings(kafka_sasl, "wrong"), timeout=30)
