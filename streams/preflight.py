"""Before a worker starts: can it reach the brokers, and do they accept its credentials?

librdkafka retries a refused login for ever, one log line every few milliseconds, and Faust waits
on it; a wrong password would look like a worker that never gets any records. So the worker first
asks the cluster for its metadata with the same settings every client uses, and turns the outcome
into one line: the credentials were refused, the brokers could not be reached, or TLS failed.
"""

from __future__ import annotations

import logging
import re
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from veil.composition import client_config
from veil.errors import ConfigError
from veil.settings import KafkaSettings

#: librdkafka's own log lines (one per failed attempt) are not shown: the outcome is one error.
_QUIET = logging.getLogger("veil.kafka.preflight")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def check_kafka(kafka: KafkaSettings, timeout: float | None = None) -> None:
    """Raise :class:`ConfigError` (one line, no secret in it) unless the cluster answers within
    ``timeout`` (default ``kafka.preflight_timeout_s``)."""
    timeout = kafka.preflight_timeout_s if timeout is None else timeout
    errors: list[KafkaError] = []
    admin = AdminClient(client_config(kafka, {"error_cb": errors.append, "logger": _QUIET}))
    deadline = time.monotonic() + timeout
    where = kafka.bootstrap_servers
    while True:
        try:
            admin.list_topics(timeout=2.0)
            return
        except KafkaException as err:
            last = err.args[0] if err.args else None
        admin.poll(0.2)  # serves error_cb
        refused = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
        if refused:
            who = f"user '{kafka.sasl_username}' ({kafka.sasl_mechanism})" if kafka.sasl_username else "this client"
            raise ConfigError(f"Kafka at {where} refused the credentials of {who}: {_reason(refused[-1])}; "
                              "check VEIL_KAFKA__SASL_USERNAME and VEIL_KAFKA__SASL_PASSWORD")
        tls = [e for e in errors if e.code() == KafkaError._SSL]
        if tls:
            raise ConfigError(f"TLS with Kafka at {where} failed: {_reason(tls[-1])}; check VEIL_KAFKA__SSL_CA_FILE "
                              "and the certificate settings")
        if time.monotonic() > deadline:
            seen = errors[-1] if errors else last
            reason = _reason(seen) if seen is not None else "no answer"
            hint = (" (a broker that requires authentication closes plaintext connections: check "
                    "VEIL_KAFKA__SECURITY_PROTOCOL)") if kafka.security_protocol == "PLAINTEXT" and "refused" not in reason else ""
            raise ConfigError(f"cannot reach Kafka at {where} within {timeout:.0f} s: {reason}{hint}")


_PREFIX = re.compile(r"^(?:\w+://)?[^\s:]+:\d+/\w+: ")
_SUFFIX = re.compile(r" \(after \d+ms in state \w+\)$")


def _reason(err: KafkaError) -> str:
    """librdkafka's message, first line, without the broker address and timing it adds."""
    text = (err.str() or err.name()).splitlines()[0]
    text = _SUFFIX.sub("", _PREFIX.sub("", text))
    return text.removeprefix("SASL authentication error: ")
