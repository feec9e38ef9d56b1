"""A stage whose infrastructure fails on every record stops the worker: non-zero exit, /health 503
first, and the records it had not finished are not committed (a fixed worker re-reads them).
(Records that fail for what they are never stop it: test_oversized_outputs.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.conftest import running_stack
from tests.integration.stream_harness import dead_letters, health, wait_until
from veil.ops.demo import free_port
from veil.ops.produce import produce
from veil.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The worker with a redaction that cannot reach what it depends on (a stand-in for a broken dependency).
BROKEN = """
import veil.redactor as r
def broken(self, text, decisions, **kw):
    raise ConnectionError("a dependency of redaction is unreachable")
r.Redactor.redact_text = broken
from veil.ops.cli import main
main()
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack(Settings(state_dir=tmp_path_factory.mktemp("broken"), app_id="veil-broken"))


def committed(settings: Settings, topic: str) -> int:
    c = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": settings.app_id})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(max(tp.offset, 0) for tp in c.committed([TopicPartition(topic, p) for p in parts], timeout=10))
    finally:
        c.close()


def test_when_redaction_fails_on_every_record_then_the_worker_stops_non_zero_and_commits_nothing_after(stack, tmp_path):
    batch = "broken-1"
    docs = [orjson.dumps({"id": f"d{i}", "text": f"write to user{i}@example.org"}) for i in range(300)]
    produce(stack.kafka.bootstrap_servers, stack.topic("docs.in"), docs, batch=batch)
    port = free_port()
    env = dict(os.environ, VEIL_KAFKA__BOOTSTRAP_SERVERS=stack.kafka.bootstrap_servers,
               VEIL_ELASTICSEARCH__URL=stack.elasticsearch.url, VEIL_STATE_DIR=str(stack.state_dir),
               VEIL_APP_ID=stack.app_id, VEIL_STREAM__WEB_PORT=str(port), VEIL_MODELS__GENERAL_ENABLED="false",
               VEIL_MODELS__SECURITY_ENABLED="false", VEIL_MODELS__NER="", VEIL_STREAM__MAX_CONSECUTIVE_FAILURES="20",
               VEIL_STREAM__ANALYZE_BATCH="16")
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-c", BROKEN, "run"], stdout=out, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
    seen = []
    try:
        deadline = time.monotonic() + 180
        while worker.poll() is None and time.monotonic() < deadline:
            if (answer := health(port)) is not None:
                seen.append(answer)
            time.sleep(0.05)
        assert worker.poll() is not None, "the worker kept running"
    finally:
        if worker.poll() is None:
            worker.kill()
    text = log.read_text()
    assert worker.returncode != 0, text[-2000:]
    assert "error: the decide stage failed on 20 records in a row (last: ConnectionError)" in text
    assert seen and seen[-1][0] == 503
    assert seen[-1][1]["parts"]["decide"].startswith("down:")
    # 20 dead letters, each with its reason; the rest of the stream was neither lost nor committed
    _total, distinct = wait_until(lambda: (n := dead_letters(stack, batch))[1] >= 20 and n, 60, "dead letters")
    assert distinct == 20
    assert committed(stack, stack.topic("docs.in")) < 300 - 20
    assert "user1@example.org" not in text
