"""The project's own bootstrap corpus for the judge: generated values in templates to redact, and
look-alikes to keep (versions, product names, documentation values). Its templates are not the
evaluation set's, so the evaluation stays a test of generalisation."""

from __future__ import annotations

import random
import re
from importlib import resources

from models.roles import marked_context
from training.examples import JudgeExample
from veil.evaluation.dataset import LABEL_OF
from veil.evaluation.values import GENERATORS

_PLACEHOLDER = re.compile(r"\{([A-Z_]+)\}")
_KEEP_CATEGORY = {"IP_ADDRESS": "infra", "INTERNAL_HOSTNAME": "infra", "MAC_ADDRESS": "infra",
                  "HIGH_ENTROPY_SECRET": "secret", "PASSWORD": "secret"}


def lines() -> list[str]:
    raw = resources.files("training").joinpath("data/bootstrap.txt").read_text(encoding="utf-8")
    return [ln for ln in raw.splitlines() if ln.strip() and not ln.startswith("#")]


def _render(template: str, rng: random.Random) -> tuple[str, list[tuple[int, int, str]]]:
    out, spans, pos = "", [], 0
    for m in _PLACEHOLDER.finditer(template):
        out += template[pos:m.start()]
        value = GENERATORS[m.group(1)][0](rng)
        spans.append((len(out), len(out) + len(value), m.group(1)))
        out += value
        pos = m.end()
    return out + template[pos:], spans


def examples(per_template: int = 4, *, seed: int = 2026, context_chars: int = 120) -> list[JudgeExample]:
    rng = random.Random(seed)
    out: list[JudgeExample] = []
    for i, line in enumerate(lines()):
        kind, rest = line.split(" ", 1)
        if kind == "R":
            for k in range(per_template):
                text, spans = _render(rest, rng)
                rid = f"boot-{i:03d}-{k}"
                for start, end, kind_ in spans:
                    out.append(JudgeExample(
                        id=f"{rid}:{start}-{end}", record_id=rid, context=marked_context(text, start, end, context_chars),
                        entity=LABEL_OF.get(kind_, kind_), category=GENERATORS[kind_][1], label="redact",
                        source="bootstrap", confidence=1.0))
        elif kind == "K":
            entity, text = rest.split(" ", 1)
            out.append(JudgeExample(id=f"boot-{i:03d}", record_id=f"boot-{i:03d}", context=text, entity=entity,
                                    category=_KEEP_CATEGORY.get(entity, "pii"), label="keep", source="bootstrap",
                                    confidence=1.0))
        else:
            raise ValueError(f"bootstrap line {i + 1}: starts with {kind!r}, not R or K")
    return out
