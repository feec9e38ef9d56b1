"""The labelled evaluation set: templates filled by value generators, plus hand-written hard cases.

Records are ``{"id", "text", "spans": [{"start", "end", "type"}], "group"}``. The set is built
deterministically from a seed. It is for evaluation only: the training loop must never read it
(``training`` refuses records whose id starts with ``eval-``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from importlib import resources

from pydantic import BaseModel, Field

from veil.evaluation.values import GENERATORS

#: generator name -> label type used for scoring
LABEL_OF = {"PRIVATE_IP": "IP_ADDRESS", "ADDRESS_DE": "ADDRESS", "SYSLOG_HOST": "INTERNAL_HOSTNAME", "LOGIN": "USERNAME"}
DIRECT_IDENTIFIERS = {"PERSON", "ADDRESS", "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "NL_BSN",
                      "IN_AADHAAR", "BR_CPF", "ES_DNI", "IP_ADDRESS", "DATE_OF_BIRTH"}
SECRETS = {"AWS_ACCESS_KEY", "AWS_SECRET_KEY", "GITHUB_TOKEN", "GITLAB_TOKEN", "SLACK_TOKEN", "STRIPE_KEY", "JWT",
           "PASSWORD", "API_KEY", "SENDGRID_API_KEY", "NPM_TOKEN", "PRIVATE_KEY"}


class LabeledSpan(BaseModel):
    start: int = Field(ge=0)
    end: int
    type: str


class LabeledRecord(BaseModel):
    id: str
    text: str
    spans: list[LabeledSpan]
    group: str = Field(description="log, document, benign or hard")


_PLACEHOLDER = re.compile(r"\{([A-Z_]+)\}")
_MARKED = re.compile(r"\[\[([A-Z_]+):(.+?)\]\]", re.S)


def templates(name: str) -> list[str]:
    raw = resources.files("veil.evaluation").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return [line for line in raw.split("\n") if line.strip() and not line.startswith("#")]


def render(template: str, rng: random.Random) -> tuple[str, list[LabeledSpan]]:
    """Fill ``{TYPE}`` placeholders with generated values; returns the text and the labelled spans."""
    out: list[str] = []
    spans: list[LabeledSpan] = []
    pos = 0
    length = 0
    for m in _PLACEHOLDER.finditer(template):
        kind = m.group(1)
        literal = template[pos:m.start()].replace("\\n", "\n")
        out.append(literal)
        length += len(literal)
        value = GENERATORS[kind][0](rng)
        spans.append(LabeledSpan(start=length, end=length + len(value), type=LABEL_OF.get(kind, kind)))
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(template[pos:].replace("\\n", "\n"))
    return "".join(out), spans


def parse_marked(line: str) -> tuple[str, list[LabeledSpan]]:
    """Hand-written cases mark sensitive values inline as ``[[TYPE:value]]``."""
    out: list[str] = []
    spans: list[LabeledSpan] = []
    pos = length = 0
    for m in _MARKED.finditer(line):
        literal = line[pos:m.start()]
        out.append(literal)
        length += len(literal)
        value = m.group(2).replace("\\n", "\n")
        spans.append(LabeledSpan(start=length, end=length + len(value), type=m.group(1)))
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(line[pos:])
    return "".join(out).replace("\\n", "\n"), spans


def build(seed: int = 1234, per_template: int = 4) -> list[LabeledRecord]:
    rng = random.Random(seed)
    records: list[LabeledRecord] = []
    for group, name in (("log", "log_templates.txt"), ("document", "doc_templates.txt"),
                        ("benign", "benign_templates.txt")):
        for t_index, template in enumerate(templates(name)):
            for k in range(per_template):
                text, spans = render(template, rng)
                records.append(LabeledRecord(id=f"eval-{group}-{t_index:03d}-{k}", text=text, spans=spans, group=group))
    for i, line in enumerate(templates("hard_cases.txt")):
        text, spans = parse_marked(line)
        records.append(LabeledRecord(id=f"eval-hard-{i:03d}", text=text, spans=spans, group="hard"))
    return records


class LabelError(ValueError):
    """A line of a labelled file that cannot be scored, with its line number."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason


def parse_line(raw: bytes, line: int) -> LabeledRecord:
    """One labelled record; raises :class:`LabelError` when it is not one, or a span lies outside its text."""
    try:
        rec = LabeledRecord.model_validate_json(raw)
    except ValueError as err:
        first = str(err).splitlines()
        raise LabelError(line, first[0] if first else "not a labelled record") from None
    for s in rec.spans:
        if not 0 <= s.start < s.end <= len(rec.text):
            raise LabelError(line, f"span {s.start}-{s.end} of type {s.type} lies outside the text")
    return rec


def iter_jsonl(path, rejected: list[LabelError] | None = None) -> Iterator[LabeledRecord]:
    """Records of a labelled JSONL file. With ``rejected``, a bad line is appended there and skipped;
    without, it raises :class:`LabelError`."""
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield parse_line(line, n)
            except LabelError as err:
                if rejected is None:
                    raise
                rejected.append(err)
