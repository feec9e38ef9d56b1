"""Fields beside the text: what an identifier may look like to be kept, and the secrets that need
no label there.

Record ids, source names and batch tags are copied into every document and audit event, and
nobody reads them for what they say: a producer that puts an e-mail address or a key into one
must not get it indexed. They are kept only when they pass a strict shape (:func:`plain_identifier`)
and nothing a detector finds is in them; otherwise they are replaced by a keyed digest. In
metadata values and keys, in ids and headers, a long high-entropy run of the shape cloud keys have
is a secret even without a label around it (:func:`field_secrets`); in text it still needs one, as
text is full of long mixed tokens that are no secrets.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from veil.normalize import normalized
from veil.schemas import Category, Finding

#: An identifier worth keeping readable: a short run of letters, digits and a few separators.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: Runs inside an identifier, split at its separators.
_RUN = re.compile(r"[A-Za-z0-9]+")
#: Candidates for a key in a field: base64 or base64url characters, long enough to be one.
_KEYLIKE = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/_=-])")
MAX_DIGITS = 8  # a longer digit run may be a phone, an account or a card number
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def entropy(s: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values()) if n else 0.0


def keylike(run: str) -> bool:
    """A run of the shape of a generated key: upper and lower case letters and digits mixed, long,
    and close to random (an AWS secret key, an Azure storage key, a base64 token). Words, ids in one
    case, hex digests and UUIDs do not pass."""
    body = run.rstrip("=")
    if len(body) < 20:
        return False
    classes = sum((any(c.islower() for c in body), any(c.isupper() for c in body), any(c.isdigit() for c in body)))
    return classes == 3 and entropy(body) >= 3.8


def plain_identifier(value: str) -> bool:
    """Whether an id, source name or batch tag may be indexed as it is: the safe characters only, at
    most 128 of them, no digit run a number could hide in, no run of 24+ characters that mixes
    letters and digits (a key). A UUID is plain. Detectors are asked separately."""
    if not _PLAIN.fullmatch(value):
        return False
    if _UUID.fullmatch(value):
        return True
    for run in _RUN.findall(value):
        if run.isdigit() and len(run) > MAX_DIGITS:
            return False
        if len(run) >= 24 and not run.isalpha():
            return False
    return True


def field_secrets(value: str) -> list[Finding]:
    """Key-shaped runs in a field value (metadata, an id, a header) as findings; no label needed.
    Read on the detectors' view, so an invisible character inside a key does not split it."""
    view = normalized(value)
    text = view.text if view is not None else value
    out = []
    for m in _KEYLIKE.finditer(text):
        run = m.group()
        if keylike(run):
            entity = "AWS_SECRET_KEY" if len(run) == 40 and "_" not in run and "-" not in run else "API_KEY"
            start, end = view.span(m.start(), m.end()) if view is not None else (m.start(), m.end())
            out.append(Finding(start=start, end=end, entity=entity, category=Category.SECRET, score=0.95,
                               detector="field-secret"))
    return out
