"""Stream operations on the real embedded broker: replay, dead-letter re-drive, review -> feedback."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid

import orjson
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from veil.composition import payload_sealer
from veil.errors import InvalidInput
from veil.ops.kafka_range import Position, Writer, read_range
from veil.schemas import (
    Category,
    DeadLetter,
    Decision,
    DecisionSource,
    Feedback,
    Finding,
    OperatorEvent,
    ReviewItem,
    SourceRef,
    dumps,
    loads,
)
from veil.streams.stages import dead_letter

pytestmark = [pytest.mark.integration]


def veil(settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, VEIL_KAFKA__BOOTSTRAP_SERVERS=settings.kafka.bootstrap_servers,
               VEIL_ELASTICSEARCH__URL=settings.elasticsearch.url, VEIL_STATE_DIR=str(settings.state_dir))
    return subprocess.run([sys.executable, "-m", "veil.ops.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120)


def new_topic(settings, partitions: int = 2) -> str:
    name = f"veil.test-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers})
    for fut in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).values():
        fut.result(15)
    return name


def fill(settings, topic: str, values: list[bytes]) -> None:
    w = Writer(settings.kafka.bootstrap_servers)
    for i, v in enumerate(values):
        w.send(topic, v, key=str(i).encode())
    w.close()


def operator_events(settings, name: str) -> list[OperatorEvent]:
    """Operator actions ``name`` recorded on veil.audit (decision events there are skipped)."""
    out = []
    for m in read_range(settings.kafka.bootstrap_servers, settings.topic("audit"), Position(special="earliest")):
        raw = orjson.loads(m.value)
        if "user" in raw and raw["event"]["action"] == name:
            out.append(OperatorEvent.model_validate(raw))
    return out


def test_read_range_by_offsets_and_by_time(stack_settings):
    boot, topic = stack_settings.kafka.bootstrap_servers, new_topic(stack_settings)
    fill(stack_settings, topic, [f"m{i}".encode() for i in range(40)])
    everything = list(read_range(boot, topic, Position(special="earliest")))
    assert sorted(m.value for m in everything) == sorted(f"m{i}".encode() for i in range(40))
    some = list(read_range(boot, topic, Position(offset=5), Position(offset=9)))  # 5..9 inclusive, each partition
    assert len(some) == 10 and {m.offset for m in some} == set(range(5, 10))
    later = max(m.timestamp_ms for m in everything) + 1
    fill(stack_settings, topic, [b"after"])
    assert [m.value for m in read_range(boot, topic, Position(time_ms=later))] == [b"after"]
    before = list(read_range(boot, topic, Position(special="earliest"), Position(time_ms=later)))
    assert len(before) == 40 and b"after" not in {m.value for m in before}


def test_replay_refeeds_a_range_into_another_topic_and_into_a_corpus(stack_settings, tmp_path):
    boot = stack_settings.kafka.bootstrap_servers
    src, dst = new_topic(stack_settings), new_topic(stack_settings)
    fill(stack_settings, src, [orjson.dumps({"id": str(i), "text": f"line {i}"}) for i in range(30)])
    out = veil(stack_settings, "replay", "--topic", src, "--into", dst)
    assert out.returncode == 0, out.stderr
    copied = list(read_range(boot, dst, Position(special="earliest")))
    assert len(copied) == 30 and all(dict(m.headers).get("veil-replay") for m in copied)
    corpus = tmp_path / "corpus.jsonl"
    out = veil(stack_settings, "replay", "--topic", src, "--from", "0", "--to", "4", "-o", str(corpus))
    assert out.returncode == 0, out.stderr
    rows = [orjson.loads(line) for line in corpus.read_bytes().splitlines()]
    assert len(rows) == 10 and all(r["value"]["text"].startswith("line ") for r in rows)
    done = {(e.veil.operation.target, e.veil.operation.count, e.veil.operation.range)
            for e in operator_events(stack_settings, "replay")}
    assert {(dst, 30, f"{src} earliest..latest"), (str(corpus), 10, f"{src} 0..4")} <= done


def test_bad_position_is_a_one_line_error(stack_settings):
    out = veil(stack_settings, "replay", "--topic", "logs.in", "--from", "yesterday-ish")
    assert out.returncode == 4 and "cannot read position 'yesterday-ish'" in out.stderr and "Traceback" not in out.stderr


def test_deadletters_are_listed_and_redriven_to_their_origin(stack_settings):
    boot = stack_settings.kafka.bootstrap_servers
    origin = new_topic(stack_settings)
    batch = uuid.uuid4().hex[:6]
    w = Writer(boot)
    sealer = payload_sealer(stack_settings)  # the CLI's: same state folder
    for i, payload in enumerate([b'{"id": "a", "text": "fixed later"}', b"\xff\xfe"]):
        dl = dead_letter(InvalidInput("not valid JSON" if i == 0 else "not UTF-8"),
                         SourceRef(topic=origin, partition=0, offset=i), payload, stage="analyze", batch=batch,
                         sealer=sealer)
        assert dl.sealed and b"fixed later" not in dumps(dl)
        w.send(stack_settings.topic("deadletter"), dumps(dl))
    legacy = DeadLetter(reason="not valid JSON (written before sealing)", error_type="InvalidInput", batch=batch,
                        origin=SourceRef(topic=origin, partition=0, offset=2), payload=base64.b64encode(b"{}").decode())
    w.send(stack_settings.topic("deadletter"), dumps(legacy))
    w.close()
    listed = veil(stack_settings, "deadletter", "list", "--limit", "500")
    assert listed.returncode == 0 and "not valid JSON" in listed.stdout and "InvalidInput" in listed.stdout
    out = veil(stack_settings, "deadletter", "redrive", "--reason", "not valid JSON")
    assert out.returncode == 0, out.stderr
    back = list(read_range(boot, origin, Position(special="earliest")))
    # sent without a key, the two land on either partition: compare them regardless of order
    assert sorted(m.value for m in back) == [b'{"id": "a", "text": "fixed later"}', b"{}"]
    assert all(dict(m.headers)["veil-batch"] == batch.encode() for m in back)
    redrives = [e for e in operator_events(stack_settings, "deadletter-redrive") if e.veil.batch == batch]
    assert [(e.veil.operation.count, e.event.outcome) for e in redrives] == [(2, "success")]


def test_review_writes_labels_to_feedback_and_does_not_ask_twice(stack_settings):
    boot = stack_settings.kafka.bootstrap_servers
    items = []
    for i, (redact, conf) in enumerate([(True, 0.6), (False, 0.7), (True, 0.5)]):
        f = Finding(start=6, end=14, entity="IP_ADDRESS", category=Category.INFRA, detector="ip", score=0.6)
        rid = f"rev-{uuid.uuid4().hex[:6]}-{i}"
        items.append(ReviewItem(id=f"{rid}:6-14", record_id=rid, origin=SourceRef(topic="veil.logs.in", partition=0, offset=i),
                                context="host [[10.0.0.5]] down", decision=Decision(
                                    finding=f, redact=redact, confidence=conf, source=DecisionSource.MODEL,
                                    rationale="r", model="m", model_version="1")))
    w = Writer(boot)
    sealer = payload_sealer(stack_settings)
    for it in items:  # one key, one partition: the CLI and this test then see the same order
        w.send(stack_settings.topic("review"), sealer.seal(dumps(it), "review"), key=b"review-test")
    w.close()
    ours = {it.id for it in items}
    # answer only our items: accept, correct to redact, correct to keep; earlier tests' items get skipped
    answers = []
    earliest = Position(special="earliest")
    existing = [loads(ReviewItem, sealer.open(m.value, "review")).id
                for m in read_range(boot, stack_settings.topic("review"), earliest)]
    labelled = {loads(Feedback, sealer.open(m.value, "feedback")).id
                for m in read_range(boot, stack_settings.topic("feedback"), earliest)}
    plan = iter(["a", "r", "k"])
    for item_id in existing:
        if item_id in labelled:
            continue
        answers.append(next(plan) if item_id in ours else "s")
    out = veil(stack_settings, "review", "--limit", "100", "--reviewer", "ana", stdin="\n".join(answers) + "\n")
    assert out.returncode == 0, out.stderr
    written = list(read_range(boot, stack_settings.topic("feedback"), Position(special="earliest")))
    assert not any(b"10.0.0.5" in m.value for m in written)  # the labelled contexts are sealed
    fb = {f.id: f for m in written if (f := loads(Feedback, sealer.open(m.value, "feedback"))).id in ours}
    got = [(fb[it.id].label, fb[it.id].corrected, fb[it.id].reviewer) for it in items]
    assert got == [("redact", False, "ana"), ("redact", True, "ana"), ("keep", True, "ana")]
    labels = {e.veil.operation.record_id: (e.user.name, e.veil.operation.label, e.veil.operation.corrected)
              for e in operator_events(stack_settings, "review-label") if e.veil.operation.record_id in {it.record_id for it in items}}
    assert [labels[it.record_id] for it in items] == [("ana", "redact", False), ("ana", "redact", True), ("ana", "keep", True)]
    again = veil(stack_settings, "review", "--limit", "100", stdin="s\n" * 100)
    assert not any(it.id in again.stdout for it in items)  # labelled items are not asked again
