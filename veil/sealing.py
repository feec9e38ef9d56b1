"""Raw text that Veil keeps on its internal topics, sealed.

Some messages must carry a record's original text: the payload of a dead letter (so it can be
re-driven), a record on its way to the security model (``veil.analyzed``), a decision waiting for
a person (``veil.review``) and that person's label (``veil.feedback``). Anyone who can read a Kafka
topic could read them; sealed, they need the payload key too.

A sealed message is ``MAGIC || nonce || AES-256-GCM(plaintext)``; the key is derived from the
configured secret with HKDF, and the purpose (the topic's short name) is the associated data, so a
message sealed for one topic does not open as another's. Sealing also authenticates: a message
written to ``veil.analyzed`` by someone without the key is refused, not redacted on their terms.
"""

from __future__ import annotations

import hmac
import os

from veil.errors import InvalidInput

MAGIC = b"veil-sealed-1:"
_NONCE = 12


class SealError(InvalidInput):
    """A message that should be sealed is not, or does not open with this key."""


class Sealer:
    """Seals and opens messages with one key (``VEIL_PAYLOAD_KEY``)."""

    def __init__(self, secret: bytes) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        if len(secret) < 16:
            raise ValueError("the payload key must have at least 16 bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"veil/payload/v1").derive(secret)
        self._aead = AESGCM(key)
        self._mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"veil/payload-digest/v1").derive(secret)

    def digest(self, data: bytes) -> str:
        """A keyed digest of a payload (HMAC-SHA256, hex): it identifies a record without letting
        anyone confirm a guess of a short one, as a plain hash would."""
        return hmac.digest(self._mac_key, data, "sha256").hex()

    def seal(self, data: bytes, purpose: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return MAGIC + nonce + self._aead.encrypt(nonce, data, purpose.encode())

    def open(self, data: bytes | None, purpose: str) -> bytes:
        """The plaintext of a sealed message; :class:`SealError` if it is not one of ours."""
        from cryptography.exceptions import InvalidTag

        if not data or not data.startswith(MAGIC) or len(data) < len(MAGIC) + _NONCE + 16:
            raise SealError(f"not a sealed {purpose} message")
        body = data[len(MAGIC):]
        try:
            return self._aead.decrypt(body[:_NONCE], body[_NONCE:], purpose.encode())
        except InvalidTag as err:
            raise SealError(f"a sealed {purpose} message does not open: another VEIL_PAYLOAD_KEY, "
                            "or the message was altered") from err


def is_sealed(data: bytes | None) -> bool:
    return data is not None and data.startswith(MAGIC)


__all__ = ["MAGIC", "SealError", "Sealer", "is_sealed"]
