"""The caches of model answers: exact reuse (same figures with and without), bounds, staleness,
and no text in keys or entries."""

import asyncio
import hashlib

import pytest

from veil.batch import BatchEngine
from veil.cache import LRU, CachedDecision, Caching, DecisionCache
from veil.evaluation import dataset, scoring
from veil.policy import Policy
from veil.redactor import Redactor
from veil.schemas import (
    Analysis,
    AnalystResult,
    AnalyzedRecord,
    Category,
    DecideResponse,
    Decision,
    DecisionSource,
    Finding,
    InboundRecord,
    RecordKind,
    SourceRef,
)
from veil.settings import CacheSettings
from veil.streams.stages import AnalyzeStage, DecideStage

SECRET = b"test-secret"


class Judge:
    """Deterministic in everything it is shown (the marked context and the entity), like a model at
    temperature 0; keeps most candidates, so reuse errors would show up as leaks."""

    identity = "judge@1"

    def __init__(self, invalid: bool = True) -> None:
        self.asked: list[str] = []
        self.invalid = invalid

    def judge_context(self, context: str, finding: Finding) -> Decision | None:
        self.asked.append(context)
        h = hashlib.sha256(f"{finding.entity}|{context}".encode()).digest()[0]
        if self.invalid and h % 7 == 1:
            return None  # no valid answer, as small models sometimes give
        return Decision(finding=finding, redact=h % 3 == 0, confidence=0.9, source=DecisionSource.MODEL,
                        rationale="r", model="judge", model_version="1")


class Analyst:
    """Flags every token of letters that follows ``user`` or ``for`` in what it reads, as a person."""

    identity = "analyst@1"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def analyze(self, text: str, budget_s: float | None = None) -> AnalystResult:
        import re

        self.asked.append(text)
        if "sshd" in text:  # a template this model never answers validly
            return AnalystResult(analysis=Analysis(error="no valid analyst answer"), findings=[])
        if "unreachable" in text:
            return AnalystResult(analysis=Analysis(error="provider unavailable (ProviderTimeout)"), findings=[])
        spans = [m.span(1) for m in re.finditer(r"(?:user[= ]|for )(<\*>|[A-Za-z]+)", text)]
        return AnalystResult(analysis=Analysis(text_kind="log", model="analyst", model_version="1"), findings=[
            Finding(start=s, end=e, entity="PERSON", category=Category.PII, detector="llm", score=0.6) for s, e in spans])


def _engine(reuse: bool, templates: bool = True) -> tuple[BatchEngine, Analyst, Judge]:
    analyst, judge = Analyst(), Judge()
    caching = Caching.build(CacheSettings(reuse=reuse, templates=templates), SECRET, analyst)
    redactor = Redactor(policy=Policy(), hmac_key=SECRET)
    return BatchEngine(redactor, analyst=analyst, judge=judge, caching=caching), analyst, judge


def _eval(engine: BatchEngine, records):
    results = engine.run_many([(r.id, r.text) for r in records], logs=[r.group == "log" for r in records])
    return results, scoring.score(records, [scoring.Prediction.model_validate_json(r.to_json()) for r in results])


def test_the_evaluation_set_scores_the_same_with_and_without_reuse():
    records = dataset.build()
    on, analyst_on, judge_on = _engine(reuse=True)
    off, analyst_off, judge_off = _engine(reuse=False)
    results_on, report_on = _eval(on, records)
    results_off, report_off = _eval(off, records)
    assert [r.to_json() for r in results_on] == [r.to_json() for r in results_off]
    assert report_on == report_off
    # ... while asking the models less.
    assert len(judge_off.asked) > 0 and len(judge_on.asked) < len(judge_off.asked)
    assert len(analyst_on.asked) < len(analyst_off.asked)
    assert on.caching.stats["decisions"]["hits"] > 0


def test_reuse_on_repetitive_logs_asks_once_per_template_and_value():
    lines = [f"2026-11-20T10:0{i % 10}:00Z INFO login ok for {name} from 10.0.0.{i % 2}"
             for i, name in enumerate(["alice", "bob", "alice", "bob"] * 25)]
    on, analyst, judge = _engine(reuse=True)
    off, _, judge_off = _engine(reuse=False)
    logs = [True] * len(lines)
    out_on = on.run_many([(str(i), t) for i, t in enumerate(lines)], logs=logs)
    out_off = off.run_many([(str(i), t) for i, t in enumerate(lines)], logs=logs)
    assert [r.to_json() for r in out_on] == [r.to_json() for r in out_off]
    assert len(judge_off.asked) == 200  # a name and a private address per line
    # The first line is its own template, then one template: the name and the address are asked
    # about once for each, whatever the values.
    assert len(analyst.asked) == 2 and len(judge.asked) == 4


def test_invalid_answers_are_reused_but_an_unreachable_provider_is_asked_again():
    on, analyst, _judge = _engine(reuse=True)
    lines = [f"Nov 20 10:0{i}:00 bastion sshd[{i}]: session opened for root" for i in range(5)]
    lines += [f"job {i} unreachable upstream" for i in range(5)]
    on.run_many([(str(i), t) for i, t in enumerate(lines)], logs=[True] * len(lines))
    sshd = [a for a in analyst.asked if "sshd" in a]
    unreachable = [a for a in analyst.asked if "unreachable" in a]
    assert len(sshd) == 1 and len(unreachable) == 5


def test_judge_is_shown_the_template_with_the_candidate_place_marked_never_a_variable_value():
    on, _, judge = _engine(reuse=True)
    on.run_many([("1", "login ok for alice at 10.0.0.1 pid 77"), ("2", "login ok for bob at 10.0.0.2 pid 78")],
                logs=[True, True])
    assert judge.asked[-2:] == ["login ok for [[<*>]] at <IP> pid <NUM>", "login ok for <*> at [[<IP>]] pid <NUM>"]
    assert not any("10.0.0" in q for q in judge.asked)


def test_without_templates_documents_are_asked_as_written():
    on, analyst, judge = _engine(reuse=True, templates=False)
    on.run("1", "login ok for alice at 10.0.0.1", log=True)
    assert analyst.asked == ["login ok for alice at 10.0.0.1"]
    assert "login ok for [[alice]] at 10.0.0.1" in judge.asked


def test_decision_cache_is_bounded_and_keys_hide_the_value():
    cache = DecisionCache(SECRET, max_entries=3)
    entry = CachedDecision(redact=True, confidence=0.9, served="m@1")
    keys = [cache.key("m@1", "PERSON", f"hello [[name{i}]]") for i in range(5)]
    for k in keys:
        cache.put(k, entry)
    assert cache.stats["entries"] == 3
    assert cache.get(keys[0], "m@1") is None and cache.get(keys[4], "m@1") == entry
    assert all("name" not in k for k in keys) and len(set(keys)) == 5
    assert "name" not in entry.model_dump_json()


def test_an_entry_for_another_model_is_not_used():
    cache = DecisionCache(SECRET)
    key = cache.key("m@1", "PERSON", "[[x]]")
    cache.put(key, CachedDecision(redact=False, confidence=0.99, served="m@1"))
    assert cache.get(key, "m@2") is None
    assert cache.key("m@2", "PERSON", "[[x]]") != key


def test_lru_forgets_the_least_recently_used():
    lru: LRU[str, int] = LRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1
    lru.put("c", 3)
    assert lru.get("b") is None and lru.get("a") == 1 and lru.get("c") == 3
    with pytest.raises(ValueError):
        LRU(0)


class Pool:
    model = "judge@1"

    def __init__(self) -> None:
        self.judge = Judge(invalid=False)
        self.requests = 0

    async def decide(self, request):
        self.requests += 1
        return DecideResponse(record_id=request.record_id,
                              decisions=[self.judge.judge_context(c, f) for f, c in zip(request.findings, request.contexts)])


def _analyzed(stage: AnalyzeStage, offset: int, line: str) -> AnalyzedRecord:
    record = InboundRecord(id=f"r{offset}", kind=RecordKind.LOG, text=line, source="app",
                           origin=SourceRef(topic="veil.logs.in", partition=0, offset=offset))
    return asyncio.run(stage.analyze(record))


def test_stream_stages_settle_cached_records_without_the_pool_and_do_not_requeue_reviews():
    redactor = Redactor(policy=Policy(), hmac_key=SECRET)
    analyst = Analyst()
    caching = Caching.build(CacheSettings(), SECRET, analyst)
    analyze = AnalyzeStage(redactor=redactor, analyst=analyst, max_bytes=10_000, caching=caching)
    pool = Pool()
    decide = DecideStage(redactor=redactor, security=pool, caching=caching, review_below=0.95)
    lines = ["login ok for alice pid 1", "login ok for bob pid 2", "login ok for bob pid 3"]
    first = [_analyzed(analyze, i, line) for i, line in enumerate(lines)]
    assert first[1].template_id == first[2].template_id and first[1].variable_parts()
    assert decide.settle_now(first[1]) is None  # bob in this template was never asked about
    asked = asyncio.run(decide.run(first[1]))
    assert pool.requests == 1 and len(asked.reviews) == 1
    again = decide.settle_now(first[2])  # same template, same value: answered by the cache
    assert again is not None and pool.requests == 1
    assert [a.veil.cached for a in again.audits if a.veil.decided_by == "model"] == [True]
    assert again.reviews == []
    assert again.document.template_id == first[2].template_id
