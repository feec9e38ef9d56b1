"""Scoring a judge (served by llama.cpp, adapter included) and the promotion gate.

Two measures: decisions on the held-out split (redact is the positive class; a kept sensitive span
is a leak) and the full pipeline on the project's evaluation set (detectors plus this judge, scored
like ``veil eval``). Both take the judge's answers the way the stream does: no valid answer means
redact (it fails closed) and a keep less sure than the policy's ``keep_min_confidence`` is overruled.

The held-out split is scored twice from the same answers: ``held_out`` as the stream decides (a
span the detectors' evidence settles by policy, a Luhn-valid card say, is never put to the judge)
and ``judge_only`` with every example put to the judge.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

from veil.schemas import Category, Decision, Finding
from veil.training.examples import JudgeExample


class JudgeScores(BaseModel):
    examples: int
    precision: float
    recall: float
    f1: float
    leak_rate: float
    accuracy: float
    no_answer: int
    overruled: int = 0
    by_policy: int = 0
    keep_min_sweep: dict[str, dict[str, float]] = Field(default_factory=dict, description=(
        "F1 and leak rate had the policy's keep_min_confidence been each of these values: the trade-off an "
        "operator sets."))
    seconds: float


class EvalSetScores(BaseModel):
    records: int
    precision: float
    recall: float
    f1: float
    leak_rate: float
    seconds: float


class Scores(BaseModel):
    held_out: JudgeScores
    judge_only: JudgeScores | None = None
    eval_set: EvalSetScores | None = None


class Verdict(BaseModel):
    promote: bool
    reasons: list[str]


def _finding(ex: JudgeExample) -> Finding:
    start = ex.context.index("[[") + 2
    end = ex.context.index("]]")
    category = Category(ex.category) if ex.category in {c.value for c in Category} else Category.PII
    return Finding(start=start, end=end, entity=ex.entity, category=category, detector="training", score=0.5)


Settle = Callable[[Finding, Decision | None], Decision]
PolicyVerdict = Callable[[JudgeExample], bool | None]


def policy_verdict(redactor) -> PolicyVerdict:
    """What the policy decides about an example's span before any model is asked: True (redact on
    the detectors' evidence), False (allow-listed), or None (the judge is asked)."""
    def decide(ex: JudgeExample) -> bool | None:
        before, span, after = ex.parts
        start, end = len(before), len(before) + len(span)
        text = before + span + after
        triage = redactor.triage(text, redactor.scan(text))
        for d in triage.decided:
            if d.finding.start <= start and end <= d.finding.end:
                return d.redact
        return None
    return decide


def _scores(pairs: list[tuple[bool, bool]], *, none: int, overruled: int, by_policy: int, seconds: float) -> JudgeScores:
    """(decided redact, truly sensitive) pairs as scores."""
    tp = sum(r and t for r, t in pairs)
    fp = sum(r and not t for r, t in pairs)
    fn = sum(t and not r for r, t in pairs)
    tn = sum(not r and not t for r, t in pairs)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return JudgeScores(examples=len(pairs), precision=round(p, 4), recall=round(r, 4),
                       f1=round(2 * p * r / (p + r), 4) if p + r else 0.0,
                       leak_rate=round(fn / (tp + fn), 4) if tp + fn else 0.0,
                       accuracy=round((tp + tn) / max(1, len(pairs)), 4), no_answer=none, overruled=overruled,
                       by_policy=by_policy, seconds=round(seconds, 2))


def score_judge(judge, examples: Sequence[JudgeExample], settle: Settle,
                policy: PolicyVerdict | None = None) -> tuple[JudgeScores, JudgeScores]:
    """``judge.judge_context`` on every example, each answer settled by ``settle`` (the redactor's
    :meth:`~veil.redactor.Redactor.settle`, the stream's rule). Returns the scores as the stream
    decides (``policy`` first, where given) and with the judge deciding every example."""
    none = overruled = by_policy = 0
    stream, alone = [], []
    swept: list[tuple[bool, bool | None, float]] = []  # (truth, decision whatever the threshold, keep confidence)
    started = time.monotonic()
    for ex in examples:
        finding = _finding(ex)
        d = judge.judge_context(ex.context, finding)
        none += d is None
        settled = settle(finding, d)
        overruled += d is not None and not d.redact and settled.redact
        truth = ex.label == "redact"
        alone.append((settled.redact, truth))
        ruled = policy(ex) if policy is not None else None
        by_policy += ruled is not None
        stream.append((settled.redact if ruled is None else ruled, truth))
        keep = d is not None and not d.redact
        swept.append((truth, ruled if ruled is not None else (None if keep else True), d.confidence if keep else 0.0))
    seconds = time.monotonic() - started
    held = _scores(stream, none=none, overruled=overruled, by_policy=by_policy, seconds=seconds)
    held.keep_min_sweep = _sweep(swept)
    return held, _scores(alone, none=none, overruled=overruled, by_policy=0, seconds=seconds)


SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9)


def _sweep(swept: list[tuple[bool, bool | None, float]]) -> dict[str, dict[str, float]]:
    """As the stream decides, had ``keep_min_confidence`` been each of :data:`SWEEP`: a judge's keep
    stands at or above the threshold and is redacted below it."""
    out = {}
    for th in SWEEP:
        pairs = [(fixed if fixed is not None else conf < th, truth) for truth, fixed, conf in swept]
        s = _scores(pairs, none=0, overruled=0, by_policy=0, seconds=0)
        out[f"{th:.1f}"] = {"f1": s.f1, "leak_rate": s.leak_rate, "accuracy": s.accuracy}
    return out


def score_eval_set(redactor, judge, limit: int | None = None) -> EvalSetScores:
    """The detectors plus ``judge`` on the project's evaluation set (its first ``limit`` records)."""
    from veil.batch import BatchEngine
    from veil.evaluation import dataset, scoring

    records = dataset.build()[:limit] if limit else dataset.build()
    started = time.monotonic()
    engine = BatchEngine(redactor, judge=judge)
    results = engine.run_many([(r.id, r.text) for r in records])
    report = scoring.score(records, [scoring.Prediction.model_validate_json(res.to_json()) for res in results])
    return EvalSetScores(records=len(records), precision=round(report.precision, 4), recall=round(report.recall, 4),
                         f1=round(report.f1, 4), leak_rate=round(report.leak_rate, 4),
                         seconds=round(time.monotonic() - started, 2))


def gate(candidate: Scores, served: Scores, *, min_f1_gain: float, max_leak_increase: float) -> Verdict:
    """Promote only when no leak rate rises (beyond the allowance) and F1 improves on the held-out
    split (and does not fall on the evaluation set)."""
    reasons, ok = [], True
    leaks = [("held-out", candidate.held_out.leak_rate, served.held_out.leak_rate)]
    c_eval, s_eval = candidate.eval_set, served.eval_set
    if c_eval is not None and s_eval is not None:
        leaks.append(("eval set", c_eval.leak_rate, s_eval.leak_rate))
    for name, after, before in leaks:
        if after > before + max_leak_increase:
            ok = False
            reasons.append(f"{name}: leak rate rose {before:.4f} -> {after:.4f}")
    c, s = candidate.held_out, served.held_out
    if c.f1 - s.f1 > min_f1_gain:
        reasons.append(f"held-out: F1 {s.f1:.4f} -> {c.f1:.4f}")
    else:
        ok = False
        reasons.append(f"held-out: F1 {s.f1:.4f} -> {c.f1:.4f}, not above the required gain {min_f1_gain}")
    if c_eval is not None and s_eval is not None and c_eval.f1 < s_eval.f1 - max(0.0, -min_f1_gain):
        ok = False
        reasons.append(f"eval set: F1 fell {s_eval.f1:.4f} -> {c_eval.f1:.4f}")
    return Verdict(promote=ok, reasons=reasons)
