"""The training dataset builder, the schedule, the gate and the adapter naming, without a model."""

from __future__ import annotations

import random
from datetime import datetime

import numpy as np
import orjson
import pytest

from veil import Policy, Redactor
from veil.schemas import Feedback, dumps
from veil.settings import TrainingSettings
from veil.training import bootstrap, dataset
from veil.training.dataset import Replayed, Sources, Synthesizer, balance, deduplicate, split
from veil.training.evaluate import EvalSetScores, JudgeScores, Scores, gate, score_judge
from veil.training.examples import JudgeExample, answer, prompt_messages
from veil.training.export import gguf_name, permute_rows
from veil.training.schedule import Cron, next_run, parse_every

TEXT = "login failed for anna.berg@example.org from 10.1.2.3 on build 4.18.2.1"
LOGS = "veil.logs.in"


def audit_event(start: int, end: int, entity: str, *, action="redact", decided_by="model", confidence=0.9,
                offset=5, category="pii") -> Replayed:
    event = {"@timestamp": "2026-11-24T00:00:00Z", "id": f"{LOGS}:0:{offset}:{start}-{end}",
             "event": {"action": action},
             "veil": {"record_id": f"{LOGS}:0:{offset}", "source_topic": LOGS, "source_partition": 0,
                      "source_offset": offset, "entity": entity, "category": category, "start": start, "end": end,
                      "decided_by": decided_by, "confidence": confidence}}
    return Replayed("veil.audit", 0, offset, orjson.dumps(event))


def span(text: str, value: str) -> tuple[int, int]:
    i = text.index(value)
    return i, i + len(value)


def sources(**kw) -> Sources:
    inputs = [Replayed(LOGS, 0, 5, TEXT.encode())]
    return Sources(inputs=inputs, **kw)


def settings(**kw) -> TrainingSettings:
    return TrainingSettings(**{"sensitive_values": "protect", "validation_share": 0.01, "max_bucket_share": 1.0, **kw})


def test_decisions_join_the_replayed_text_and_unlabelled_ones_are_skipped():
    e = span(TEXT, "anna.berg@example.org")
    v = span(TEXT, "4.18.2.1")
    audit = [audit_event(*e, "EMAIL", decided_by="policy", confidence=1.0),
             audit_event(*v, "IP_ADDRESS", action="keep", category="infra"),
             audit_event(*span(TEXT, "10.1.2.3"), "IP_ADDRESS", decided_by="fail_closed"),
             audit_event(*v, "IP_ADDRESS", confidence=0.5, offset=5),
             audit_event(0, 4, "PERSON", offset=99),
             Replayed("veil.audit", 0, 1, b'{"id": "op:1", "event": {"action": "replay"}, "user": {"name": "a"}}')]
    train, validation, stats = dataset.build(sources(audit=audit), settings())
    got = {(x.entity, x.label, x.source) for x in train + validation}
    assert got == {("EMAIL", "redact", "policy"), ("IP_ADDRESS", "keep", "model")}
    assert next(x for x in train + validation if x.entity == "EMAIL").span == "anna.berg@example.org"
    assert stats.skipped == {"decided by fail_closed": 1, "unsure model decision": 1, "input not replayed": 1,
                             "not a decision event": 1}


def test_a_persons_label_overrides_the_model_and_the_evaluation_set_stays_out():
    v = span(TEXT, "4.18.2.1")
    model = audit_event(*v, "IP_ADDRESS", action="keep", category="infra")
    fb = Feedback(id=f"{LOGS}:0:5:{v[0]}-{v[1]}", record_id=f"{LOGS}:0:5", entity="IP_ADDRESS", category="infra",
                  context="build [[4.18.2.1]]", label="redact", corrected=True, model_confidence=0.9, reviewer="ana")
    from_eval = Feedback(id="eval-log-001-0:1-2", record_id="eval-log-001-0", entity="PERSON", category="pii",
                         context="[[x]]", label="keep", corrected=False, model_confidence=0.5, reviewer="ana")
    feedback = [Replayed("veil.feedback", 0, i, dumps(f)) for i, f in enumerate([fb, from_eval])]
    train, validation, stats = dataset.build(sources(audit=[model], feedback=feedback), settings())
    [only] = train + validation
    assert (only.label, only.source, only.confidence) == ("redact", "feedback", 1.0)
    assert stats.skipped["evaluation record"] == 1


def test_synthesis_replaces_every_sensitive_value_but_keeps_a_kept_span():
    redactor = Redactor(policy=Policy(), hmac_key=b"k")
    e, v = span(TEXT, "anna.berg@example.org"), span(TEXT, "4.18.2.1")
    audit = [audit_event(*e, "EMAIL", decided_by="policy", confidence=1.0),
             audit_event(*v, "IP_ADDRESS", action="keep", category="infra")]
    train, validation, _ = dataset.build(sources(audit=audit), settings(sensitive_values="synthesize"),
                                         synthesize=Synthesizer(redactor.scan))
    out = {x.entity: x for x in train + validation}
    blob = " ".join(x.context for x in out.values())
    assert "anna.berg@example.org" not in blob and "10.1.2.3" not in blob  # the span and its neighbours
    assert "@" in out["EMAIL"].span and out["IP_ADDRESS"].span == "4.18.2.1"  # same type; kept span unchanged
    again, _, _ = dataset.build(sources(audit=audit), settings(sensitive_values="synthesize"),
                                synthesize=Synthesizer(redactor.scan))
    assert [x.context for x in again] == [x.context for x in train]  # deterministic
    with pytest.raises(ValueError, match="synthesizer"):
        dataset.build(sources(audit=audit), settings(sensitive_values="synthesize"))


def ex(i: int, label="redact", category="pii", source="model", record=None, context=None) -> JudgeExample:
    return JudgeExample(id=f"r{i}:0-1", record_id=record or f"r{i}", context=context or f"text {i} [[v{i}]]",
                        entity="EMAIL", category=category, label=label, source=source, confidence=1.0)


def test_dedup_keeps_the_most_trusted_label_per_context():
    out = deduplicate([ex(1, source="model"), ex(2, label="keep", source="feedback", context="text 1 [[v1]]"), ex(3)])
    assert [(e.id, e.label) for e in out] == [("r2:0-1", "keep"), ("r3:0-1", "redact")]


def test_balance_caps_big_buckets_and_never_drops_a_persons_label():
    many = [ex(i) for i in range(80)] + [ex(100 + i, label="keep", category="infra") for i in range(10)]
    many += [ex(200, source="feedback")]
    out = balance(many, 0.5)
    counts = {b: sum(1 for e in out if dataset.bucket(e) == b) for b in ("pii/redact", "infra/keep")}
    assert counts == {"pii/redact": 10, "infra/keep": 10}
    assert any(e.source == "feedback" for e in out)


def test_split_is_by_record_and_deterministic():
    items = [ex(i, record=f"rec{i // 3}", context=f"c{i} [[v]]") for i in range(300)]
    train, validation = split(items, 0.25)
    assert 40 < len(validation) < 110
    assert not {e.record_id for e in train} & {e.record_id for e in validation}
    assert split(items, 0.25) == (train, validation)


def test_same_content_same_version(tmp_path):
    s = settings(store_dir=tmp_path)
    a = dataset.write([ex(1)], [ex(2)], dataset.Stats(), s)
    b = dataset.write([ex(1)], [ex(2)], dataset.Stats(), s)
    c = dataset.write([ex(1), ex(3)], [ex(2)], dataset.Stats(), s)
    assert a.version == b.version != c.version
    assert (a.path.stat().st_mode & 0o777) == 0o700 and ((a.path / "train.jsonl").stat().st_mode & 0o777) == 0o600
    info, train, validation = dataset.load(a.path)
    assert (info.train, [e.id for e in train], [e.id for e in validation]) == (1, ["r1:0-1"], ["r2:0-1"])


def test_bootstrap_corpus_has_both_labels_and_is_not_the_evaluation_set():
    from veil.training.exclusions import is_evaluation_record

    items = bootstrap.examples(per_template=2)
    assert {e.label for e in items} == {"redact", "keep"}
    assert all(e.span and e.span in e.context for e in items)
    assert not any(is_evaluation_record(e.record_id, e.context) for e in items)


def test_the_tuned_answer_and_prompt():
    a = answer(ex(1))
    assert a.redact and a.category == "pii" and len(a.rationale) <= 120
    assert answer(ex(2, label="keep")).category == "none"
    zero, few = prompt_messages(ex(1), "smollm2"), prompt_messages(ex(1), "smollm2", examples=True)
    assert len(zero) == 2 and len(few) > 2 and zero[-1] == few[-1] and "[[v1]]" in zero[-1].content


def test_schedule_intervals_and_cron():
    assert parse_every("24h").total_seconds() == 86400 and parse_every("90m").total_seconds() == 5400
    with pytest.raises(ValueError):
        parse_every("daily")
    t = datetime(2026, 11, 24, 2, 30)
    assert next_run(t, cron="0 3 * * *") == datetime(2026, 11, 24, 3, 0)
    assert next_run(t, cron="*/15 * * * *") == datetime(2026, 11, 24, 2, 45)
    assert Cron("0 4 * * 0").next_after(t) == datetime(2026, 11, 29, 4, 0)  # the next Sunday
    assert Cron("0 4 * * 7").next_after(t) == datetime(2026, 11, 29, 4, 0)
    assert Cron("30 1 1 1-3 *").next_after(t) == datetime(2027, 1, 1, 1, 30)
    # names and macros, as cron writes them
    assert Cron("0 3 * * MON").next_after(t) == datetime(2026, 11, 30, 3, 0)
    assert Cron("0 3 * * mon-fri").next_after(t) == datetime(2026, 11, 24, 3, 0)
    assert Cron("@daily").next_after(t) == datetime(2026, 11, 25, 0, 0)
    assert Cron("0 0 13 * 5").next_after(t) == datetime(2026, 11, 27, 0, 0)  # the 13th or a Friday
    for bad in ("0 3 * *", "61 * * * *", "0 3 * * moon", "@sometimes", "0 3 * * * 2027"):
        with pytest.raises(ValueError):
            Cron(bad)
    with pytest.raises(ValueError, match="never matches"):
        Cron("0 0 30 2 *").next_after(t)
    with pytest.raises(ValueError):
        next_run(t, every="1h", cron="0 3 * * *")


def scores(f1: float, leak: float, eval_f1: float = 0.9, eval_leak: float = 0.01) -> Scores:
    return Scores(held_out=JudgeScores(examples=10, precision=f1, recall=f1, f1=f1, leak_rate=leak, accuracy=f1,
                                       no_answer=0, seconds=1),
                  eval_set=EvalSetScores(records=5, precision=eval_f1, recall=eval_f1, f1=eval_f1, leak_rate=eval_leak,
                                         seconds=1))


@pytest.mark.parametrize(("candidate", "promote"), [
    (scores(0.9, 0.05), True),
    (scores(0.9, 0.06), False),  # leaks more
    (scores(0.8, 0.05), False),  # no better
    (scores(0.9, 0.05, eval_leak=0.02), False),  # leaks more on the evaluation set
    (scores(0.9, 0.05, eval_f1=0.85), False),  # worse on the evaluation set
])
def test_gate(candidate, promote):
    assert gate(candidate, scores(0.8, 0.05), min_f1_gain=0.0, max_leak_increase=0.0).promote is promote


def test_held_out_answers_are_settled_as_the_stream_settles_them():
    from veil.schemas import Decision, DecisionSource

    class Judge:  # keeps everything, sure of it only for the "version" examples
        def judge_context(self, context, finding):
            if "nothing" in context:
                return None
            sure = 0.95 if "version" in context else 0.6
            return Decision(finding=finding, redact=False, confidence=sure, source=DecisionSource.MODEL)

    def ex(i, context, label):
        return JudgeExample(id=str(i), record_id=str(i), context=context, entity="IP_ADDRESS", category="infra",
                            label=label, source="bootstrap", confidence=1.0)

    examples = [ex(0, "upgraded to version [[1.2.3.4]]", "keep"), ex(1, "login from [[81.2.3.4]]", "redact"),
                ex(2, "client [[81.2.3.5]] said nothing", "redact"), ex(3, "cache at [[10.0.0.1]]", "keep")]
    settle = Redactor(policy=Policy(keep_min_confidence=0.8), hmac_key=b"k" * 32).settle
    s, alone = score_judge(Judge(), examples, settle)
    # the unsure keeps (1, 3) are overruled to redact, the unanswered one (2) fails closed
    assert (s.overruled, s.no_answer, s.by_policy) == (2, 1, 0) and alone == s.model_copy(update={"by_policy": 0, "keep_min_sweep": {}})
    assert (s.leak_rate, s.recall, s.precision, s.accuracy) == (0.0, 1.0, round(2 / 3, 4), 0.75)
    loose = Redactor(policy=Policy(keep_min_confidence=0.5), hmac_key=b"k" * 32)
    s, alone = score_judge(Judge(), examples, loose.settle)
    assert (s.overruled, s.leak_rate) == (0, 0.5)  # the keep of 81.2.3.4 now leaks
    # the sweep shows what each threshold would have made of the same answers (keeps at 0.6 and 0.95)
    assert s.keep_min_sweep["0.5"]["leak_rate"] == 0.5 and s.keep_min_sweep["0.7"]["leak_rate"] == 0.0
    assert s.keep_min_sweep["0.7"]["accuracy"] == 0.75
    # as the stream decides: the policy settles a span on strong detector evidence before any model
    # is asked (here: the login address), so the judge's keep of it never happens
    s, alone = score_judge(Judge(), examples, loose.settle, lambda ex: True if "login" in ex.context else None)
    assert (s.by_policy, s.leak_rate, alone.leak_rate) == (1, 0.0, 0.5)


def test_policy_verdict_is_the_policy_decision_on_the_marked_span():
    from veil.training.evaluate import policy_verdict

    r = Redactor(policy=Policy(allow_values=frozenset({"ops@example.com"})), hmac_key=b"k" * 32)
    verdict = policy_verdict(r)

    def ex(context):
        return JudgeExample(id="x", record_id="x", context=context, entity="E", category="pii", label="redact",
                            source="bootstrap", confidence=1.0)

    assert verdict(ex("charged card [[4111 1111 1111 1111]] twice")) is True  # Luhn-valid: the detector settles it
    assert verdict(ex("mail [[ops@example.com]] for help")) is False  # allow-listed
    assert verdict(ex("see [[Getting Started]] first")) is None  # nothing settles it: the judge is asked


def test_adapter_tensor_names_and_the_rotary_permutation():
    assert gguf_name("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight") == "blk.3.attn_q.weight.lora_a"
    assert gguf_name("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight") == "blk.0.ffn_down.weight.lora_b"
    with pytest.raises(ValueError):
        gguf_name("base_model.model.lm_head.lora_A.weight")
    w = np.arange(16, dtype=np.float32).reshape(8, 2)  # 2 heads of 4 rows: halves interleaved per head
    p = permute_rows(w, 2)
    assert p[:, 0].tolist() == [0, 4, 2, 6, 8, 12, 10, 14]
    assert sorted(p.ravel().tolist()) == sorted(w.ravel().tolist())


def test_balanced_pool_repeats_the_rarer_label_to_the_wanted_share():
    from veil.training.finetune import balanced_pool

    labels = ["redact"] * 99 + ["keep"] * 19
    pool = balanced_pool(labels, 0.35)
    keep_share = sum(labels[i] == "keep" for i in pool) / len(pool)
    assert 0.3 < keep_share < 0.4
    assert sorted(set(pool)) == list(range(len(labels)))  # every example still in, none invented
    assert balanced_pool(labels, 0) == list(range(len(labels)))
    assert balanced_pool(["keep"] * 3, 0.5) == [0, 1, 2]


def test_bootstrap_renderings_of_a_template_fall_on_one_side_of_the_split():
    items = bootstrap.examples(per_template=3)
    by_template: dict[str, set[str]] = {}
    for e in items:
        by_template.setdefault(e.record_id, set()).add(e.context)
    assert max(len(v) for v in by_template.values()) > 1  # several renderings share one record id
    keeps = {e.span for e in items if e.label == "keep" and e.record_id == items[-1].record_id}
    assert len(keeps) > 1  # keep placeholders draw varied look-alikes
    train, validation = dataset.split(items, 0.3)
    assert train and validation and not {e.record_id for e in train} & {e.record_id for e in validation}


def test_synthetic_values_of_types_without_an_evaluation_generator_are_realistic():
    from veil.training.bootstrap import SENSITIVE_EXTRA

    rng = random.Random(3)
    org = dataset.synthetic("ORGANIZATION", "Acme Holdings", rng)
    assert org in {SENSITIVE_EXTRA["ORGANIZATION"][0](random.Random(i)) for i in range(200)}  # a name, not letters shuffled
    secret = dataset.synthetic("HIGH_ENTROPY_SECRET", "x" * 40, rng)
    assert len(secret) >= 32 and secret != "x" * 40
    assert dataset.synthetic("ZIP_CODE", "AB12", rng) != "AB12"  # no generator: a look-alike of the same shape
