"""Redaction operators: plain functions registered by name, chosen per entity by the policy."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from schemas import Finding


@dataclass(slots=True)
class OperatorContext:
    """Per-document state: placeholder numbering, so the same value gets the same number."""

    hmac_key: bytes
    _numbers: dict[tuple[str, str], int] = field(default_factory=dict)
    _next: dict[str, int] = field(default_factory=dict)

    def number_for(self, entity: str, value: str) -> int:
        key = (entity, value)
        if key not in self._numbers:
            self._next[entity] = self._next.get(entity, 0) + 1
            self._numbers[key] = self._next[entity]
        return self._numbers[key]


Operator = Callable[[str, Finding, OperatorContext], str]


def value_hash(value: str, key: bytes) -> str:
    """Keyed hash of a value, stable across documents and workers sharing the key."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def placeholder(value: str, finding: Finding, ctx: OperatorContext) -> str:
    return f"<{finding.entity}_{ctx.number_for(finding.entity, value)}>"


def mask(value: str, finding: Finding, ctx: OperatorContext) -> str:
    keep = 4 if len(value) >= 12 else 0
    return "*" * (len(value) - keep) + value[len(value) - keep:]


def pseudonym(value: str, finding: Finding, ctx: OperatorContext) -> str:
    return f"<{finding.entity}:{value_hash(value, ctx.hmac_key)[:12]}>"


def drop(value: str, finding: Finding, ctx: OperatorContext) -> str:
    return ""


OPERATORS: dict[str, Operator] = {
    "placeholder": placeholder,
    "mask": mask,
    "hmac": pseudonym,
    "drop": drop,
}
