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

import unicodedata
import uuid

import orjson
import pytest

from veil.ops.demo import free_port
from veil.ops.kafka_range import Position, read_range
from veil.ops.produce import produce
from veil.ops.stack import elastic
from veil.schemas import DeadLetter, loads
from tests.conftest import running_stack
from tests.integration.hostile import SOFT_HYPHEN, ZWJ, ZWSP, doc, fold, fullwidth, interleave
from tests.integration.stream_harness import doc_count, es_docs, start_worker, stop_worker, wait_until
from veil.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]



@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack(Settings(state_dir=tmp_path_factory.mktemp("hostile"), app_id="veil-hostile"))


def test_when_hostile_records_are_mixed_into_a_stream_then_each_is_indexed_or_dead_lettered_and_nothing_leaks(
        stack, tmp_path):
    batch = f"hostile-{uuid.uuid4().hex[:6]}"
    planted: set[str] = set()  # values that must not be readable anywhere Veil writes for others

    def plant(value: str) -> str:
        planted.add(value)
        return value

    # -- the hostile records, each followed by ordinary ones so the worker must go on after it
    hostile_docs: list[bytes] = [
        doc(id="big-5mb", text="reach me at " + plant("five.mb@example.org") + " " + "lorem ipsum " * 440_000),
        doc(id="thirty-k", text=" ".join(f"u{i}@ex.io" for i in range(30_000))),  # about 360 KB
        b'{"id": "broken", "text": "mail ' + plant("json.broken@example.org").encode() + b'"',
        b'{"id": "latin1", "text": "caf\xe9 ' + plant("utf8.bad@example.org").encode() + b'"}',
        b'{"id": "nul", "text": "mail ' + plant("nul.byte@example.org").encode() + b'\x00 end"}',  # a raw NUL byte
        doc(id="escaped-nul", text="mail " + plant("escaped.nul@example.org") + "\x00 end"),  # valid JSON: "\u0000"
        b'{"id": "deep", "text": "x", "metadata": ' + b'{"a": ' * 3000 + b'"1"' + b"}" * 3000 + b"}",
        doc(id="key-is-a-value", text="hello", **{plant("key.value@example.org"): "1"}),
        # the same id twice, different content: two documents, neither replaces the other
        doc(id="same-id", text="first version, mail " + plant("first.version@example.org")),
        doc(id="same-id", text="second version, mail " + plant("second.version@example.org")),
        # values beside the text
        doc(id="card " + plant("4111 1111 1111 1111"), text="nothing in the text", source=plant("ana.source@example.org"),
            metadata={"owner": plant("meta.owner@example.org"), plant("meta.key@example.org"): "x", "team": "billing"}),
        # values hidden with invisible, fullwidth and combining characters
        doc(id="zwsp-mail", text="write to " + plant("hidden" + ZWSP + ".mail@example.org") + " today"),
        doc(id="zwj-aws", text="key=" + plant("AKIA" + ZWJ + "IOSFODNN7EXAMPLE") + " in config"),
        doc(id="shy-mail", text="mail " + plant("soft" + SOFT_HYPHEN + "hyphen@example.org")),
        doc(id="fullwidth-card", text="card " + plant(fullwidth("4111111111111111")) + " on file"),
        doc(id="combining-mail", text="mail " + plant(unicodedata.normalize("NFD", "josé.müller@example.org"))),
    ]
    hostile_logs: list[bytes] = [
        ("GET /export user=" + plant("big.line@example.org") + " " + "x" * 1_100_000).encode(),
        b"\xff\xfe broken bytes " + plant("log.bad@example.org").encode(),
        ("sshd: login from " + plant("203.0.113.77") + "\x00").encode(),
    ]
    ordinary_docs = [doc(id=f"ok-{i}", text=f"ticket {i}: please call {plant(f'ok{i}.user@example.org')} back",
                         source="support") for i in range(100)]
    ordinary_logs = [f"{i} INFO session opened for {plant(f'log{i}@example.org')} from 10.1.{i % 250}.{i % 200 + 1}".encode()
                     for i in range(100)]

    docs, logs = interleave(hostile_docs, ordinary_docs), interleave(hostile_logs, ordinary_logs)
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
