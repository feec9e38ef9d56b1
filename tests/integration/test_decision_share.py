"""Decisions shared between workers through the compacted veil.decisions topic (real Tansu)."""

import asyncio

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from veil.cache import CachedDecision, DecisionCache
from veil.streams.decisions import MAC_HEADER, DecisionShare, entry_mac

pytestmark = pytest.mark.integration
SECRET = b"share-test"
SIGNING = b"decisions-signing-key-for-the-share-test"


def test_decisions_topic_is_compacted(stack_settings):
    admin = AdminClient({"bootstrap.servers": stack_settings.kafka.bootstrap_servers})
    resource = ConfigResource(ConfigResource.Type.TOPIC, stack_settings.topic("decisions"))
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["cleanup.policy"].value == "compact"


def share(settings, group: str, served: str, rejected: list[str] | None = None) -> DecisionShare:
    return DecisionShare(DecisionCache(SECRET), bootstrap=settings.kafka.bootstrap_servers,
                         topic=settings.topic("decisions"), group=group, served=lambda: served, secret=SIGNING,
                         on_reject=rejected.append if rejected is not None else None)


def read_all(reader: DecisionShare, expected: int) -> None:
    async def follow_until_loaded():
        task = asyncio.create_task(reader.follow())
        for _ in range(300):
            if reader.loaded + reader.skipped + reader.rejected >= expected:
                break
            await asyncio.sleep(0.05)
        reader._stopping = True
        await task

    asyncio.run(follow_until_loaded())


def test_a_worker_starts_with_the_decisions_others_made_for_the_model_it_serves(stack_settings):
    served = "judge@1"
    writer = share(stack_settings, "w1", served)
    key = writer.cache.key(served, "IP_ADDRESS", "[[<IP>]] - - GET /")
    stale = writer.cache.key("judge@0", "IP_ADDRESS", "[[<IP>]] - - GET /")
    writer.cache.put(key, CachedDecision(redact=True, confidence=0.9, served=served, rationale="client address"))
    writer.publish(stale, CachedDecision(redact=False, confidence=0.9, served="judge@0"))  # an older model's
    writer.close()

    reader = share(stack_settings, "w2", served)
    read_all(reader, 2)
    hit = reader.cache.get(key, served)
    assert hit is not None and hit.redact is True and hit.rationale == "client address"
    assert reader.cache.get(stale, served) is None and reader.skipped >= 1
    reader.close()


def test_forged_and_tampered_entries_change_no_decision_and_are_counted(stack_settings):
    """Someone with write access to the topic re-sends entries with ``redact`` flipped to keep: unsigned,
    with the original MAC, with a MAC under another key, or moved to another key. None is loaded:
    the worker's cache has no answer for those lines, so they go to the model (or fail closed)."""
    served = "judge@forge"
    topic = stack_settings.topic("decisions")
    writer = share(stack_settings, "forge-w", served)
    keys = [writer.cache.key(served, "IP_ADDRESS", f"[[<IP>]] template {i}") for i in range(4)]
    genuine = CachedDecision(redact=True, confidence=0.95, served=served, rationale="client address")
    for key in keys:
        writer.cache.put(key, genuine)
    writer.close()

    flipped = orjson.dumps(genuine.model_copy(update={"redact": False, "confidence": 1.0}).model_dump(mode="json"))
    genuine_mac = entry_mac(SIGNING, keys[1].encode(), orjson.dumps(genuine.model_dump(mode="json")))
    attacker = Producer({"bootstrap.servers": stack_settings.kafka.bootstrap_servers})
    attacker.produce(topic, key=keys[0].encode(), value=flipped)  # unsigned
    attacker.produce(topic, key=keys[1].encode(), value=flipped, headers=[(MAC_HEADER, genuine_mac)])  # tampered
    attacker.produce(topic, key=keys[2].encode(), value=flipped,
                     headers=[(MAC_HEADER, entry_mac(b"a-key-the-attacker-made-up", keys[2].encode(), flipped))])
    moved = orjson.dumps(genuine.model_dump(mode="json"))  # a genuine entry replayed under another key
    attacker.produce(topic, key=keys[3].encode() + b"x", value=moved,
                     headers=[(MAC_HEADER, entry_mac(SIGNING, keys[3].encode(), moved))])
    attacker.flush(10)

    rejected: list[str] = []
    reader = share(stack_settings, "forge-r", served, rejected)
    read_all(reader, 8)
    for key in keys:  # the genuine entries, and not the forged ones that came after them
        hit = reader.cache.get(key, served)
        assert hit is not None and hit.redact is True and hit.confidence == 0.95, key
    assert reader.cache.get(keys[3] + "x", served) is None
    assert reader.rejected == 4 and sorted(rejected) == ["bad_mac", "bad_mac", "bad_mac", "unsigned"]
    reader.close()
