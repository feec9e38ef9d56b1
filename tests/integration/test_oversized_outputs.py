"""Records that cannot be written as they are never stop a worker (a real worker on the embedded
stack). 30 records whose redacted output is over the message limit are made to fit (indexed without
the per-finding list), 60 in a row that cannot fit even redacted whole are dead-lettered, more than
max_consecutive_failures of them; the 200 ordinary records behind them are all indexed, the worker
stays up, and every record is accounted for."""

from __future__ import annotations

import uuid

import orjson
import pytest

from tests.conftest import running_stack
from tests.integration.stream_harness import es_docs, start_worker, stop_worker, wait_until
from tests.integration.test_hostile_stream import dead_letter_origins
from veil.ops.demo import free_port
from veil.ops.produce import produce
from veil.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LIMIT = 16_384


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack(Settings(state_dir=tmp_path_factory.mktemp("oversized"), app_id="veil-oversized"))


def test_sixty_records_that_cannot_be_written_do_not_stop_the_worker_and_nothing_is_lost(stack, tmp_path):
    batch = f"big-{uuid.uuid4().hex[:6]}"
    # ~6 KB of text that redacts to ~17 KB listed finding by finding (over the limit), ~8 KB summarized
    coarse = [orjson.dumps({"id": f"coarse-{i}", "text": " ".join(f"u{j}@ex.io" for j in range(500))})
              for i in range(30)]
    # 20 KB of metadata: over the limit whatever is done to the text
    hopeless = [orjson.dumps({"id": f"hopeless-{i}", "text": "mail ana@example.org",
                              "metadata": {f"k{j}": "v" * 200 for j in range(100)}}) for i in range(60)]
    ordinary = [orjson.dumps({"id": f"ok-{i}", "text": f"ticket {i}: please call user{i}@example.org back"})
                for i in range(200)]
    produce(stack.kafka.bootstrap_servers, stack.topic("docs.in"), coarse + hopeless + ordinary, batch=batch)

    port = free_port()
    log = tmp_path / "worker.log"
    worker = start_worker(stack, log, port, VEIL_MODELS__GENERAL_ENABLED="false", VEIL_MODELS__SECURITY_ENABLED="false",
                          VEIL_MODELS__NER="", VEIL_KAFKA__MAX_MESSAGE_BYTES=str(LIMIT),
                          VEIL_STREAM__MAX_CONSECUTIVE_FAILURES="20", VEIL_STREAM__ANALYZE_BATCH="16")
    total = len(coarse) + len(hopeless) + len(ordinary)
    try:
        def settled():
            docs, dead = es_docs(stack, batch), dead_letter_origins(stack, batch)
            return len(docs) + len(dead) >= total and (docs, dead)

        docs, dead = wait_until(settled, 400, "every record indexed or dead-lettered", worker)
        assert worker.poll() is None, "the worker stopped"
    finally:
        stop_worker(worker)
    by_id = {d["id"].split(":", 1)[1].split("~")[0]: d for d in docs}
    assert len(docs) + len(dead) == total and len(by_id) == len(docs)  # none lost, none twice
    assert {f"ok-{i}" for i in range(200)} <= set(by_id)  # every ordinary record behind them
    assert all(by_id[f"ok-{i}"]["redacted_text"] == f"ticket {i}: please call <EMAIL_1> back" for i in range(200))
    for i in range(30):  # made to fit: every address redacted, the detail left to the audit events
        d = by_id[f"coarse-{i}"]
        assert d["detail"] == "summary" and d["redactions"] == [] and d["entity_counts"] == {"EMAIL": 500}
        assert "@ex.io" not in d["redacted_text"]
    assert len(dead) == 60 and all("message limit" in dl.reason for dl in dead.values())
    assert not any(k.startswith("hopeless-") for k in by_id)
    text = log.read_text(errors="replace")
    assert "failed on" not in text and "ana@example.org" not in text
