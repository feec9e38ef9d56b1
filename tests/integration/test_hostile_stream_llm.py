"""The hostile mix with both LLM roles on (the small model: SmolLM2-135M as analyst and judge; NER
on): a real worker on the embedded stack. Every record is indexed or dead-lettered within the
bound below, none is lost, no planted value reaches an index, and /health, sampled all along, is
200 unless a part is stuck (503 then, naming the record by origin): it never says ok while a stage
stalls, which is how the probe of issue 28 saw it hang for 900 s."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from tests.conftest import SMALL_MODEL, running_stack
from tests.integration.hostile import fold, hostile_mix
from tests.integration.stream_harness import es_docs, health, start_worker, stop_worker
from tests.integration.test_hostile_stream import audit_events, dead_letter_origins
from veil.ops.demo import free_port
from veil.ops.produce import produce
from veil.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
#: every record indexed or dead-lettered within this many seconds of the worker's start (333 s
#: measured on the 2-core VM; the budget per record makes a bound hold whatever the records are)
BOUND_S = 600


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack(Settings(state_dir=tmp_path_factory.mktemp("hostile-llm"), app_id="veil-hostile-llm"))


def test_with_both_llm_roles_on_every_hostile_record_is_indexed_or_dead_lettered_within_the_bound(
        stack, tmp_path, small_model):
    batch = f"llm-{uuid.uuid4().hex[:6]}"
    mix = hostile_mix(ordinary=60, big=True)
    boot = stack.kafka.bootstrap_servers
    produce(boot, stack.topic("docs.in"), mix.docs, batch=batch, max_message_bytes=8_000_000)
    produce(boot, stack.topic("logs.in"), mix.logs, batch=batch, max_message_bytes=8_000_000)
    # a few records whose batch header is itself a value: the header is the producer's, like the text
    header_values = [mix.plant(f"header{i}@example.org") for i in range(3)]
    for value in header_values:
        produce(boot, stack.topic("docs.in"), [orjson.dumps({"id": f"hdr-{value[:7]}", "text": "tagged"})], batch=value)
    total = len(mix.docs) + len(mix.logs)

    port = free_port()
    log = tmp_path / "worker.log"
    worker = start_worker(stack, log, port, VEIL_MODELS__GENERAL=SMALL_MODEL, VEIL_MODELS__SECURITY=SMALL_MODEL,
                          VEIL_MODELS__PATHS=orjson.dumps({SMALL_MODEL: str(small_model)}).decode(),
                          VEIL_STREAM__STALL_S="90", VEIL_STREAM__ANALYST_BUDGET_S="20", VEIL_STREAM__JUDGE_BUDGET_S="30")
    started, samples, done = time.monotonic(), [], None
    try:
        while time.monotonic() - started < BOUND_S:
            if worker.poll() is not None:
                raise AssertionError(f"the worker exited with {worker.returncode}")
            if (answer := health(port)) is not None:
                samples.append(answer)
            docs, dead = es_docs(stack, batch), dead_letter_origins(stack, batch)
            if len(docs) + len(dead) >= total:
                done = time.monotonic() - started
                break
            time.sleep(3)
        assert done is not None, f"{len(docs)} indexed + {len(dead)} dead letters of {total} after {BOUND_S} s"
    finally:
        stop_worker(worker)
    print(f"\nhostile mix with LLM roles: {total} records settled in {done:.0f} s; health samples {len(samples)}")

    by_origin = {(d["origin"]["topic"], d["origin"]["partition"], d["origin"]["offset"]) for d in docs}
    assert len(docs) + len(dead) == total and not by_origin & set(dead)  # none lost, none both
    # /health was answered all along, and down only for a stage stuck on a record (named by origin)
    assert len(samples) >= 10
    for status, body in samples:
        down = {k: v for k, v in body["parts"].items() if v.startswith("down")}
        assert (status == 200) == (not down), body
        assert all("stuck for" in v and "on the record at veil." in v for v in down.values()), body
    # nothing planted is readable in either index
    audit = audit_events(stack, batch)
    everything = fold(orjson.dumps([docs, audit]).decode())
    es_all = fold(orjson.dumps(es_docs_all(stack)).decode())
    leaked = sorted(v for v in mix.planted if fold(v) in everything or fold(v) in es_all)
    assert not leaked, f"{len(leaked)} planted values indexed, e.g. {leaked[:3]}"


def es_docs_all(settings: Settings) -> list[dict]:
    from veil.ops.stack import elastic

    es = elastic.client(settings.elasticsearch)
    index = f"{settings.elasticsearch.redacted_index},{settings.elasticsearch.audit_index},{settings.elasticsearch.deadletter_index}"
    es.indices.refresh(index=index)
    return [h["_source"] for h in es.search(index=index, size=10_000)["hits"]["hits"]]
