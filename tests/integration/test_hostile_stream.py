"""A real worker fed ordinary records mixed with hostile ones: nothing lost, nothing leaked.

Among 200 valid records: a 1.1 MB line, a 5 MB document, a 360 KB document with 30,000 e-mail
addresses (its redacted output with every finding listed is over the broker's message limit, so it
is indexed with the summary alone), invalid JSON, invalid UTF-8,
NUL bytes, deep nesting, a JSON key that is an e-mail address, a different record under an id
already used, values in the metadata, the source and the id, and values hidden with invisible,
fullwidth and combining characters. Every record in becomes a document in Elasticsearch or a dead
letter; no planted value reaches the indices, the worker's log or a dead letter; and the worker
goes on after each.
"""

from __future__ import annotations

import uuid

import orjson
import pytest

from tests.conftest import running_stack
from tests.integration.hostile import fold, hostile_mix
from tests.integration.stream_harness import doc_count, es_docs, start_worker, stop_worker, wait_until
from veil.ops.demo import free_port
from veil.ops.kafka_range import Position, read_range
from veil.ops.produce import produce
from veil.ops.stack import elastic
from veil.schemas import DeadLetter, loads
from veil.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]



@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack(Settings(state_dir=tmp_path_factory.mktemp("hostile"), app_id="veil-hostile"))


def test_when_hostile_records_are_mixed_into_a_stream_then_each_is_indexed_or_dead_lettered_and_nothing_leaks(
        stack, tmp_path):
    batch = f"hostile-{uuid.uuid4().hex[:6]}"
    mix = hostile_mix(ordinary=100, big=True, extended=False)
    planted = mix.planted  # values that must not be readable anywhere Veil writes for others
    docs, logs = mix.docs, mix.logs
    assert len(docs) + len(logs) == 219 and len(set(docs)) == len(docs)  # no exact duplicates: each record counts once
    boot = stack.kafka.bootstrap_servers
    produce(boot, stack.topic("docs.in"), docs, batch=batch, max_message_bytes=8_000_000)
    produce(boot, stack.topic("logs.in"), logs, batch=batch, max_message_bytes=8_000_000)

    port = free_port()
    log = tmp_path / "worker.log"
    worker = start_worker(stack, log, port, VEIL_MODELS__GENERAL_ENABLED="false", VEIL_MODELS__SECURITY_ENABLED="false",
                          VEIL_MODELS__NER="")
    try:
        def settled():
            indexed, dead = doc_count(stack, batch), dead_letter_origins(stack, batch)
            return indexed + len(dead) >= len(docs) + len(logs) and (indexed, dead)

        indexed, dead = wait_until(settled, 600, "every record indexed or dead-lettered", worker)
        assert worker.poll() is None, "the worker stopped"
    finally:
        stop_worker(worker)

    # -- nothing lost: every record is a document or a dead letter, and no position is both
    why = sorted(dl.reason for dl in dead.values())
    assert indexed + len(dead) == len(docs) + len(logs), (indexed, why)
    # documents: 5 MB, JSON, UTF-8, NUL, nesting, a foreign key; logs: 1.1 MB, UTF-8, NUL
    assert len(dead) == 9, "\n".join(f"{o} {dl.reason}" for o, dl in sorted(dead.items()))
    assert sum("exceeds the 1000000-byte limit" in r for r in why) == 2 and not any("message limit" in r for r in why)
    assert all(dl.sealed and (dl.payload_bytes or 0) > 0 for dl in dead.values())
    indexed_docs = es_docs(stack, batch)
    ids = [d["id"] for d in indexed_docs]
    assert len(ids) == len(set(ids)) == indexed
    assert sum(i.startswith(f"{stack.topic('docs.in')}:same-id~") for i in ids) == 2  # neither replaced the other

    # -- nothing leaked: not in the indices, not in the log, not in a dead letter
    audit = audit_events(stack, batch)
    assert audit, "no audit events were indexed"
    written = {
        "veil-redacted": orjson.dumps(indexed_docs).decode(),
        "veil-audit": orjson.dumps(audit).decode(),
        "worker log": log.read_text(errors="replace"),
        "dead letters": orjson.dumps([dl.model_dump(mode="json") for dl in dead.values()]).decode(),
    }
    for where, text in written.items():
        folded = fold(text)
        found = sorted(v for v in planted if v in text or fold(v) in folded)
        assert not found, f"{len(found)} planted values readable in {where}, e.g. {found[:3]}"
    by_id = {d["id"].split(":", 1)[1].split("~")[0]: d for d in indexed_docs}
    assert by_id["ok-3"]["redacted_text"] == "ticket 3: please call <EMAIL_1> back"
    assert by_id.get("fullwidth-card", {}).get("entity_counts", {}).get("CREDIT_CARD") == 1
    # the 30,000 e-mails: made to fit without the per-finding list, every address still redacted
    thirty = by_id["thirty-k"]
    assert thirty["detail"] == "summary" and thirty["redactions"] == [] and thirty["entity_counts"]["EMAIL"] == 30_000


def dead_letter_origins(settings: Settings, batch: str) -> dict[tuple[str, int, int], DeadLetter]:
    out = {}
    for msg in read_range(settings.kafka.bootstrap_servers, settings.topic("deadletter"), Position(special="earliest")):
        dl = loads(DeadLetter, msg.value)
        if dl.batch == batch:
            out[(dl.origin.topic, dl.origin.partition, dl.origin.offset)] = dl
    return out


def audit_events(settings: Settings, batch: str) -> list[dict]:
    es = elastic.client(settings.elasticsearch)
    index = settings.elasticsearch.audit_index
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"term": {"veil.batch": batch}}, size=10_000)["hits"]["hits"]
    return [h["_source"] for h in hits]
