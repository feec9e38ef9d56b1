"""The versioned training dataset for the security judge.

Labels come from three places, in rising order of trust: the stream's own decisions (audit events,
joined with the replayed input records for their text), the project's bootstrap corpus, and people
(``veil.feedback``, which overrides any other label of the same candidate). The builder drops the
evaluation set, handles sensitive values as configured, deduplicates, balances the categories,
splits by record (a record is never on both sides) and writes the result under a content-derived
version with its statistics.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from pydantic import BaseModel, Field, ValidationError

from veil.errors import InvalidInput
from veil.evaluation.values import GENERATORS
from veil.intake import decode
from veil.models.roles import marked_context
from veil.schemas import Feedback, RecordKind, SourceRef
from veil.settings import TrainingSettings
from veil.training.bootstrap import SENSITIVE_EXTRA
from veil.training.examples import PRIORITY, JudgeExample
from veil.training.exclusions import is_evaluation_record

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Replayed:
    """One message of a replayed topic (from Kafka or from a ``veil replay -o`` corpus)."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


def from_corpus(path: Path) -> Iterator[Replayed]:
    """Messages of a JSONL corpus written by ``veil replay --output``."""
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = orjson.loads(line)
            value = row.get("value")
            raw = value.encode() if isinstance(value, str) else (orjson.dumps(value) if value is not None else None)
            yield Replayed(row["topic"], int(row["partition"]), int(row["offset"]), raw)


@dataclass
class Sources:
    """What the builder reads: input records (for text), audit events, feedback."""

    inputs: Iterable[Replayed] = ()
    audit: Iterable[Replayed] = ()
    feedback: Iterable[Replayed] = ()
    bootstrap: Iterable[JudgeExample] = ()


@dataclass
class Stats:
    read: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"read": dict(self.read), "skipped": dict(self.skipped)}


class DatasetInfo(BaseModel):
    version: str
    path: Path
    created_at: datetime
    train: int
    validation: int
    by_source: dict[str, int]
    by_bucket: dict[str, int] = Field(description="category/label -> examples in the training split")
    sensitive_values: str
    read: dict[str, int]
    skipped: dict[str, int]


def _kind(topic: str) -> RecordKind:
    return RecordKind.LOG if topic.endswith("logs.in") else RecordKind.DOCUMENT


def _texts(inputs: Iterable[Replayed], stats: Stats) -> dict[tuple[str, int, int], tuple[str, str]]:
    """(topic, partition, offset) -> (record id, text) of every decodable input message."""
    out = {}
    for m in inputs:
        stats.read["inputs"] += 1
        try:
            rec = decode(_kind(m.topic), m.value, SourceRef(topic=m.topic, partition=m.partition, offset=m.offset),
                         max_bytes=1 << 24)
        except InvalidInput:
            stats.skipped["undecodable input"] += 1
            continue
        out[(m.topic, m.partition, m.offset)] = (rec.id, rec.text)
    return out


def from_audit(audit: Iterable[Replayed], texts: dict, s: TrainingSettings, stats: Stats) -> Iterator[JudgeExample]:
    """Weak labels: the stream's policy and confident model decisions, with the text they were made on."""
    for m in audit:
        try:
            raw = orjson.loads(m.value or b"null")
            v = raw["veil"]
            rid, decided_by = v["record_id"], v["decided_by"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            stats.skipped["not a decision event"] += 1  # operator actions share the topic
            continue
        stats.read["decisions"] += 1
        if decided_by not in ("policy", "model"):
            stats.skipped[f"decided by {decided_by}"] += 1  # fail-closed decisions are not labels
            continue
        if decided_by == "model" and v["confidence"] < s.min_weak_confidence:
            stats.skipped["unsure model decision"] += 1
            continue
        found = texts.get((v["source_topic"], v["source_partition"], v["source_offset"]))
        if found is None:
            stats.skipped["input not replayed"] += 1
            continue
        _, text = found
        if is_evaluation_record(rid, text):
            stats.skipped["evaluation record"] += 1
            continue
        start, end = v["start"], v["end"]
        if not (0 <= start < end <= len(text)):
            stats.skipped["offsets outside the text"] += 1
            continue
        yield JudgeExample(id=raw["id"], record_id=rid, context=marked_context(text, start, end, s.context_chars),
                           entity=v["entity"], category=v["category"],
                           label="redact" if raw["event"]["action"] == "redact" else "keep",
                           source=decided_by, confidence=v["confidence"])


def from_feedback(feedback: Iterable[Replayed], stats: Stats) -> Iterator[JudgeExample]:
    """People's labels (``veil review``): the most trusted source."""
    for m in feedback:
        try:
            fb = Feedback.model_validate_json(m.value or b"")
        except ValidationError:
            stats.skipped["invalid feedback"] += 1
            continue
        stats.read["feedback"] += 1
        if is_evaluation_record(fb.record_id, ""):
            stats.skipped["evaluation record"] += 1
            continue
        if "[[" not in fb.context or "]]" not in fb.context:
            stats.skipped["feedback without a marked span"] += 1
            continue
        yield JudgeExample(id=fb.id, record_id=fb.record_id, context=fb.context, entity=fb.entity,
                           category=fb.category, label=fb.label, source="feedback", confidence=1.0)


# --- sensitive values ----------------------------------------------------------------------------

_GENERATOR_OF = {"PRIVATE_IP": "PRIVATE_IP", "IPV4": "IP_ADDRESS", "SECRET": "API_KEY", "PASSWORD": "PASSWORD"}


def lookalike(value: str, rng: random.Random) -> str:
    """Same shape, other characters: digits stay digits, letters keep their case, the rest stays."""
    out = []
    for c in value:
        if c.isdigit():
            out.append(str(rng.randrange(10)))
        elif c.isalpha() and c.isascii():
            letter = chr(rng.randrange(26) + ord("a"))
            out.append(letter.upper() if c.isupper() else letter)
        else:
            out.append(c)
    return "".join(out)


def synthetic(entity: str, value: str, rng: random.Random) -> str:
    """A generated value of the same type, or a look-alike when Veil has no generator for it."""
    kind = _GENERATOR_OF.get(entity, entity)
    gen = GENERATORS.get(kind) or SENSITIVE_EXTRA.get(kind)
    return gen[0](rng) if gen else lookalike(value, rng)


class Synthesizer:
    """Replaces every sensitive value of an example by a synthetic one of the same type: the marked
    span when its label is redact (a kept span is not sensitive, by its label) and whatever the
    detectors find in the surrounding text."""

    def __init__(self, scan) -> None:
        self.scan = scan  # text -> findings (the redaction core's detectors)

    def __call__(self, ex: JudgeExample) -> JudgeExample:
        rng = random.Random(int(hashlib.sha256(ex.id.encode()).hexdigest()[:12], 16))
        before, span, after = ex.parts
        if ex.label == "redact":
            span = synthetic(ex.entity, span, rng)
        return ex.model_copy(update={"context": f"{self._scrub(before, rng)}[[{span}]]{self._scrub(after, rng)}"})

    def _scrub(self, text: str, rng: random.Random) -> str:
        if not text:
            return text
        for f in sorted(self.scan(text), key=lambda f: f.start, reverse=True):
            text = text[:f.start] + synthetic(f.entity, text[f.start:f.end], rng) + text[f.end:]
        return text


# --- assembly --------------------------------------------------------------------------------------

def _key(ex: JudgeExample) -> str:
    return hashlib.sha256(f"{ex.entity}\0{ex.context}".encode()).hexdigest()


def deduplicate(examples: Iterable[JudgeExample]) -> list[JudgeExample]:
    """One example per id and per (entity, context); the most trusted label wins."""
    ids, contexts, out = set(), set(), []
    for ex in sorted(examples, key=lambda e: -PRIORITY[e.source]):  # stable: first seen wins among equals
        key = _key(ex)
        if ex.id in ids or key in contexts:
            continue
        ids.add(ex.id)
        contexts.add(key)
        out.append(ex)
    return sorted(out, key=lambda e: e.id)


def bucket(ex: JudgeExample) -> str:
    return f"{ex.category}/{ex.label}"


def balance(examples: list[JudgeExample], max_share: float) -> list[JudgeExample]:
    """Downsample (deterministically) every (category, label) bucket above ``max_share`` of the total.
    People's labels are never dropped."""
    if not examples:
        return examples
    groups: dict[str, list[JudgeExample]] = {}
    for ex in examples:
        groups.setdefault(bucket(ex), []).append(ex)
    if len(groups) == 1:
        return examples
    others = lambda b: sum(len(v) for k, v in groups.items() if k != b)  # noqa: E731
    out = []
    for b, members in groups.items():
        # largest n with n <= share * (n + others): n <= share * others / (1 - share)
        cap = len(members) if max_share >= 1 else max(1, math.floor(max_share * others(b) / (1 - max_share)))
        members = sorted(members, key=lambda e: (PRIORITY[e.source] != PRIORITY["feedback"], _key(e)))
        out += members[:max(cap, sum(1 for e in members if e.source == "feedback"))]
    return sorted(out, key=lambda e: e.id)


def split(examples: list[JudgeExample], validation_share: float) -> tuple[list[JudgeExample], list[JudgeExample]]:
    """By record: every example of a record falls on the same side."""
    train: list[JudgeExample] = []
    validation: list[JudgeExample] = []
    for ex in examples:
        h = int(hashlib.sha256(ex.record_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (validation if h < validation_share else train).append(ex)
    return train, validation


def build(sources: Sources, s: TrainingSettings, *, synthesize=None) -> tuple[list[JudgeExample], list[JudgeExample], Stats]:
    """Train and validation examples from ``sources`` (nothing written)."""
    stats = Stats()
    texts = _texts(sources.inputs, stats)
    examples = [*from_audit(sources.audit, texts, s, stats), *from_feedback(sources.feedback, stats)]
    boot = list(sources.bootstrap)
    stats.read["bootstrap"] += len(boot)
    examples = deduplicate(examples + boot)
    if s.sensitive_values == "synthesize":
        if synthesize is None:
            raise ValueError("sensitive_values=synthesize needs a synthesizer")
        examples = deduplicate(synthesize(ex) for ex in examples)
    train, validation = split(examples, s.validation_share)
    return balance(train, s.max_bucket_share), validation, stats


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def store(s: TrainingSettings) -> Path:
    """The training store, owner-only (it may hold real values in ``protect`` mode)."""
    root = _private_dir(s.store_dir.expanduser())
    for sub in ("datasets", "runs"):
        _private_dir(root / sub)
    return root


def write(train: list[JudgeExample], validation: list[JudgeExample], stats: Stats, s: TrainingSettings) -> DatasetInfo:
    """Write the splits under their content version (same content, same version: written once)."""
    digest = hashlib.sha256()
    for name, part in (("train", train), ("validation", validation)):
        for ex in part:
            digest.update(f"{name}\0{ex.id}\0{ex.label}\0{ex.context}\n".encode())
    version = digest.hexdigest()[:12]
    folder = _private_dir(store(s) / "datasets" / version)
    for name, part in (("train", train), ("validation", validation)):
        target = folder / f"{name}.jsonl"
        with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            for ex in part:
                fh.write(ex.model_dump_json().encode() + b"\n")
    info = DatasetInfo(version=version, path=folder, created_at=datetime.now(UTC), train=len(train),
                       validation=len(validation), by_source=dict(Counter(e.source for e in train + validation)),
                       by_bucket=dict(sorted(Counter(bucket(e) for e in train).items())),
                       sensitive_values=s.sensitive_values, **stats.as_dict())
    (folder / "stats.json").write_text(info.model_dump_json(indent=2))
    log.info("dataset version=%s train=%d validation=%d", version, len(train), len(validation))
    return info


def load(folder: Path) -> tuple[DatasetInfo, list[JudgeExample], list[JudgeExample]]:
    info = DatasetInfo.model_validate_json((folder / "stats.json").read_text())
    parts = [[JudgeExample.model_validate_json(line) for line in (folder / f"{n}.jsonl").read_bytes().splitlines() if line]
             for n in ("train", "validation")]
    return info, parts[0], parts[1]
