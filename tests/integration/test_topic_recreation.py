"""Re-creating an input topic replaces no earlier document (real Tansu, noida-db and worker).

Offsets start at 0 again in a topic deleted and created again (as in a broker that lost its memory
storage). Before document ids carried the line's time and content, the second batch's lines took
the first batch's ids and overwrote their documents without a word."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka.admin import AdminClient

from tests.conftest import running_stack
from tests.integration.stream_harness import doc_count, start_worker, stop_worker, wait_until
from veil.ops.demo import free_port
from veil.ops.produce import produce
from veil.ops.stack import topics
from veil.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIGHT = {"VEIL_MODELS__GENERAL_ENABLED": "false", "VEIL_MODELS__SECURITY_ENABLED": "false", "VEIL_MODELS__NER": ""}
N = 40


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack(Settings(state_dir=tmp_path_factory.mktemp("recreate"), app_id="veil-recreate"))


def run_batch(stack: Settings, batch: str, lines: list[bytes], log, app_id: str) -> None:
    produce(stack.kafka.bootstrap_servers, stack.topic("logs.in"), lines, batch=batch)
    # a group of its own: the old group's committed offsets belong to the deleted topic
    proc = start_worker(stack, log, free_port(), VEIL_APP_ID=app_id, **LIGHT)
    try:
        wait_until(lambda: doc_count(stack, batch) >= len(lines), 240, f"{batch} indexed", proc)
    finally:
        stop_worker(proc)


def test_recreating_the_input_topic_replaces_no_earlier_document(stack, tmp_path):
    tag = uuid.uuid4().hex[:6]
    first = [f"GET /orders/{i} 200 from 10.0.{i}.9 first".encode() for i in range(N)]
    second = [f"POST /login {i} 401 from 10.1.{i}.7 second".encode() for i in range(N)]
    run_batch(stack, f"a-{tag}", first, tmp_path / "w1.log", f"veil-recreate-{tag}-1")

    topic = stack.topic("logs.in")
    admin = AdminClient({"bootstrap.servers": stack.kafka.bootstrap_servers})
    admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
    deadline = time.monotonic() + 30
    while topic in admin.list_topics(timeout=10).topics and time.monotonic() < deadline:
        time.sleep(0.5)
    topics.ensure_topics(stack, stack.kafka.bootstrap_servers)  # created again: offsets start at 0
    assert topic in admin.list_topics(timeout=10).topics

    run_batch(stack, f"b-{tag}", second, tmp_path / "w2.log", f"veil-recreate-{tag}-2")
    assert doc_count(stack, f"b-{tag}") == N
    assert doc_count(stack, f"a-{tag}") == N  # the first batch's documents are all still there
