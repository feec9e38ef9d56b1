"""Creating Veil's topics explicitly, with partition counts (Faust does not create source topics)."""

from __future__ import annotations

from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient, NewTopic

from veil.composition import KafkaConnection, client_config
from veil.errors import ConfigError
from veil.settings import COMPACTED_TOPICS, TOPICS, Settings


def ensure_topics(settings: Settings, bootstrap: KafkaConnection, timeout: float = 15.0) -> list[str]:
    admin = AdminClient(client_config(bootstrap))
    k = settings.kafka
    wanted = [NewTopic(settings.topic(n), num_partitions=k.topic_partitions.get(n, k.partitions),
                       replication_factor=k.replication_factor,
                       config={"max.message.bytes": str(k.max_message_bytes),
                               **({"cleanup.policy": "compact"} if n in COMPACTED_TOPICS else {})}) for n in TOPICS]
    for topic, fut in admin.create_topics(wanted, request_timeout=timeout).items():
        try:
            fut.result(timeout)
        except Exception as err:
            kerr = err.args[0] if err.args and isinstance(err.args[0], KafkaError) else None
            if kerr is None or kerr.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise ConfigError(f"could not create topic {topic}: {err}") from err
    return [t.topic for t in wanted]
