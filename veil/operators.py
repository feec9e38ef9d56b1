"""Redaction operators: plain functions registered by name, chosen per entity by the policy."""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from veil.errors import ConfigError
from veil.schemas import Finding


@dataclass(slots=True)
class OperatorContext:
    """Per-document state: placeholder numbering, so the same value gets the same number."""

    hmac_key: bytes
    encryption_key: bytes | None = None
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
    return hmac.digest(key, value.encode("utf-8"), "sha256").hex()  # one-shot in C: 10x hmac.new


def placeholder(value: str, finding: Finding, ctx: OperatorContext) -> str:
    return f"<{finding.entity}_{ctx.number_for(finding.entity, value)}>"


def mask(value: str, finding: Finding, ctx: OperatorContext) -> str:
    keep = 4 if len(value) >= 12 else 0
    return "*" * (len(value) - keep) + value[len(value) - keep:]


def pseudonym(value: str, finding: Finding, ctx: OperatorContext) -> str:
    return f"<{finding.entity}:{value_hash(value, ctx.hmac_key)[:12]}>"


def drop(value: str, finding: Finding, ctx: OperatorContext) -> str:
    return ""


ENCRYPTED = re.compile(r"<ENC:([A-Z0-9_]+):([A-Za-z0-9_-]+)>")


def derive_siv_key(secret: str) -> bytes:
    """A 64-byte AES-SIV key (AES-256) derived from the configured secret with HKDF-SHA256."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"veil/aes-siv/v1").derive(secret.encode())


def encrypt(value: str, finding: Finding, ctx: OperatorContext) -> str:
    """Deterministic, reversible: AES-SIV with the entity type as associated data."""
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    if ctx.encryption_key is None:
        raise ConfigError("the encrypt operator needs an encryption key (VEIL_ENCRYPTION_KEY)")
    token = AESSIV(ctx.encryption_key).encrypt(value.encode("utf-8"), [finding.entity.encode()])
    return f"<ENC:{finding.entity}:{base64.urlsafe_b64encode(token).rstrip(b'=').decode()}>"


def reveal(text: str, key: bytes) -> str:
    """Replace every ``<ENC:TYPE:...>`` token made with ``key`` by its original value."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    siv = AESSIV(key)

    def one(m: re.Match[str]) -> str:
        raw = base64.urlsafe_b64decode(m.group(2) + "=" * (-len(m.group(2)) % 4))
        try:
            return siv.decrypt(raw, [m.group(1).encode()]).decode("utf-8")
        except InvalidTag as err:
            raise ConfigError("cannot decrypt: wrong key or altered token") from err

    return ENCRYPTED.sub(one, text)


OPERATORS: dict[str, Operator] = {
    "placeholder": placeholder,
    "mask": mask,
    "hmac": pseudonym,
    "drop": drop,
    "encrypt": encrypt,
}
