"""The stream's failure policy, alone: a record a stage could not process becomes its dead letter;
infrastructure failures in a row stop the worker, a record's own failures never do."""

import asyncio
import base64

import orjson

from veil.errors import InvalidInput, ProviderUnavailable
from veil.schemas import DeadLetter, SourceRef, loads
from veil.sealing import Sealer
from veil.streams.failures import FailurePolicy
from veil.streams.health import Health
from veil.streams.telemetry import WorkerMetrics

SEALER = Sealer(b"a payload key for the failure tests")
ORIGIN = SourceRef(topic="veil.logs.in", partition=1, offset=7)


class Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.flushes = 0

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.messages.append((topic, value))

    async def flush(self) -> None:
        self.flushes += 1


def policy(max_failures: int = 3) -> tuple[FailurePolicy, Sent, list[str]]:
    sent, stops = Sent(), []

    async def stop() -> None:
        stops.append("stopped")

    return FailurePolicy(outputs=sent, topic="veil.deadletter", sealer=SEALER, health=Health(max_failures),
                         metrics=WorkerMetrics(), max_payload=8, stop=stop, grace_s=0), sent, stops


def test_a_dead_letter_carries_the_reason_and_the_record_sealed_never_in_plain():
    p, sent, stops = policy()
    raw = b'{"text": "mail ana@example.org"}'
    asyncio.run(p.dead_letter(InvalidInput("not a record"), raw, ORIGIN, "analyze", "b1"))
    [(topic, value)] = sent.messages
    dl = loads(DeadLetter, value)
    assert topic == "veil.deadletter" and dl.reason == "not a record" and dl.stage == "analyze"
    assert dl.origin == ORIGIN and dl.batch == "b1" and dl.truncated and dl.payload_bytes == len(raw)
    assert b"ana@example.org" not in value
    assert SEALER.open(base64.b64decode(dl.payload), "deadletter") == raw[:8]
    assert stops == [] and 'veil_dead_letters_total{error="InvalidInput",stage="analyze"} 1.0' in p.metrics.render().decode()


def test_infrastructure_failures_in_a_row_stop_the_worker_after_flushing_the_dead_letters():
    p, sent, stops = policy(max_failures=3)
    for _ in range(2):
        asyncio.run(p.failed(ProviderUnavailable("pool down"), b"{}", ORIGIN, "decide", None))
    assert stops == [] and sent.flushes == 0
    asyncio.run(p.failed(ProviderUnavailable("pool down"), b"{}", ORIGIN, "decide", None))
    assert stops == ["stopped"] and sent.flushes == 1 and len(sent.messages) == 3
    assert p.health.fatal is not None and "decide" in p.health.fatal


def test_a_records_own_failures_never_stop_the_worker_and_a_success_resets_the_count():
    p, sent, stops = policy(max_failures=2)
    for _ in range(5):
        asyncio.run(p.failed(InvalidInput("bad record"), b"{}", ORIGIN, "analyze", None))
    asyncio.run(p.failed(ProviderUnavailable("down"), b"{}", ORIGIN, "analyze", None))
    p.health.succeeded("analyze")
    asyncio.run(p.failed(ProviderUnavailable("down"), b"{}", ORIGIN, "analyze", None))
    assert stops == [] and len(sent.messages) == 7
    assert all(orjson.loads(v)["stage"] == "analyze" for _, v in sent.messages)
