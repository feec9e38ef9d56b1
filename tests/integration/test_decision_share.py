"""Decisions shared between workers through the compacted veil.decisions topic (real Tansu)."""

import asyncio

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from veil.streams.decisions import DecisionShare
from veil.cache import CachedDecision, DecisionCache

pytestmark = pytest.mark.integration
SECRET = b"share-test"


def test_decisions_topic_is_compacted(stack_settings):
    admin = AdminClient({"bootstrap.servers": stack_settings.kafka.bootstrap_servers})
    resource = ConfigResource(ConfigResource.Type.TOPIC, stack_settings.topic("decisions"))
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["cleanup.policy"].value == "compact"


def test_a_worker_starts_with_the_decisions_others_made_for_the_model_it_serves(stack_settings):
    topic = stack_settings.topic("decisions")
    boot = stack_settings.kafka.bootstrap_servers
    served = "judge@1"
    writer = DecisionShare(DecisionCache(SECRET), bootstrap=boot, topic=topic, group="w1", served=lambda: served)
    key = writer.cache.key(served, "IP_ADDRESS", "[[<IP>]] - - GET /")
    stale = writer.cache.key("judge@0", "IP_ADDRESS", "[[<IP>]] - - GET /")
    writer.cache.put(key, CachedDecision(redact=True, confidence=0.9, served=served, rationale="client address"))
    writer.publish(stale, CachedDecision(redact=False, confidence=0.9, served="judge@0"))  # an older model's
    writer.close()

    reader = DecisionShare(DecisionCache(SECRET), bootstrap=boot, topic=topic, group="w2", served=lambda: served)

    async def follow_until_loaded():
        task = asyncio.create_task(reader.follow())
        for _ in range(200):
            if reader.loaded + reader.skipped >= 2:
                break
            await asyncio.sleep(0.05)
        reader._stopping = True
        await task

    asyncio.run(follow_until_loaded())
    hit = reader.cache.get(key, served)
    assert hit is not None and hit.redact is True and hit.rationale == "client address"
    assert reader.cache.get(stale, served) is None and reader.skipped >= 1
    reader.close()
