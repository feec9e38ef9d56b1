"""Checks that turn a regex match into evidence: checksums, ranges, context words."""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter

from veil.detectors.checksums import luhn

#: Words before a card number written as one run of digits ("card=5299584858624986", "cc: 4111...").
#: Words that make a run of 13-19 digits a card number (lower case; see ``credit_card``).
CARD_WORDS = ("card", "cards", "visa", "mastercard", "master card", "amex", "maestro", "credit", "debit", "cc", "pan",
              "tarjeta", "carte", "karte", "kreditkarte", "cartão", "carta", "kaart", "kort")
_CARD_WORDS = re.compile(r"(?i)(?<![a-z])(?:" + "|".join(re.escape(w) for w in CARD_WORDS) + r")(?![a-z])")


def credit_card(value: str, text: str, start: int) -> float | None:
    digits = "".join(c for c in value if c.isdigit())
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1 or not luhn(digits):
        return None
    if value.isdigit() and not _CARD_WORDS.search(text, max(0, start - 40), start):
        return None  # one run of digits without a card word: an epoch in milliseconds, an id, a counter
    return 0.95


def us_ssn(value: str, text: str, start: int) -> float | None:
    area, group, serial = value[0:3], value[4:6], value[7:11]
    if area in {"000", "666"} or area.startswith("9") or group == "00" or serial == "0000":
        return None
    return 0.7 + 0.25 * has_context(text, start, ("ssn", "social security", "social sec"))


def has_context(text: str, start: int, words: tuple[str, ...], window: int = 40) -> bool:
    before = text[max(0, start - window):start].lower()
    return any(w in before for w in words)


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


#: Words that follow "password:" in code, docs and logs without being a password.
NOT_SECRETS = frozenset({
    "null", "none", "nil", "true", "false", "yes", "no", "str", "string", "int", "bytes", "bool", "optional",
    "any", "required", "empty", "hidden", "masked", "redacted", "undefined", "xxx", "****", "secretstr",
    "self", "input", "prompt", "env", "getpass", "os.environ", "${password}", "%s", "{}", "?", "n/a",
    # the placeholders of examples and documentation
    "changeme", "change_me", "change-me", "changeit", "password", "passwd", "secret", "example", "sample", "dummy",
    "placeholder", "your-password", "your_password", "yourpassword", "your-secret", "your_secret", "your-token",
    "your_token", "your-api-key", "your_api_key", "mypassword", "my-password", "todo", "fixme", "tbd", "notset",
    "not-set", "unset", "default", "files", "disabled", "enabled",
})


def secret_value(value: str, text: str, start: int) -> float | None:
    """A value assigned to a password-like key; placeholders and obvious non-secrets are rejected."""
    v = value.strip("'\"")
    if len(v) < 3 or v.lower().rstrip(").:") in NOT_SECRETS:
        return None
    if (v.startswith("<") and v.endswith(">")) or v.startswith(("${", "$(", "{{", "%(", "#{", "<%")):
        return None  # a placeholder or a template's variable, not a value
    if set(v) <= {"*", "x", "X", "#", "."}:
        return None
    if _OBJECT_REF.fullmatch(v):
        return None  # "Token{a64f992", "android.os.BinderProxy@2bd79ce": an object in a debug print
    return 0.9


_OBJECT_REF = re.compile(r"[A-Za-z_$][\w$.]*(?:\{|@)[0-9a-f]{4,16}\}?")


def _net(cidr: str) -> tuple[int, int]:
    net = ipaddress.ip_network(cidr)
    return int(net.network_address), int(net.netmask)


#: The IPv4 networks ``ipaddress`` calls private (Python 3.11), checked with integer masks.
_PRIVATE_V4 = tuple(_net(c) for c in (
    "0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/29",
    "192.0.0.170/31", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32"))


def ipv4_kind(value: str) -> str | None:
    """"private", "public", or None (not an address, loopback, unspecified, the broadcast address):
    the same answer as ``ipaddress`` at a tenth of the cost (IPv4 is on most log lines)."""
    parts = value.split(".")
    if len(parts) != 4 or any(len(p) > 1 and p[0] == "0" for p in parts):
        return None
    octets = [int(p) for p in parts]
    if max(octets) > 255 or octets[0] == 127 or octets == [0, 0, 0, 0] or octets == [255, 255, 255, 255]:
        return None
    n = (octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]
    return "private" if any(n & mask == net for net, mask in _PRIVATE_V4) else "public"


def ip_kind(value: str) -> str | None:
    if "." in value and ":" not in value:
        return ipv4_kind(value)
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if ip.is_loopback or ip.is_unspecified:
        return None
    return "private" if ip.is_private else "public"


#: A version label right before a dotted quad ("version 1.2.3.4", "fw: 10.4.1.2"): a whole word, with
#: nothing but spaces and punctuation between it and the number. "server", "failover", "via" and
#: "Invalid user vnc" are no version labels.
_VERSION_BEFORE = re.compile(r"(?i)(?<!\w)(?:version|ver|v|release|rel|build|firmware|fw|revision|rev)\.?[ \t:=#]*$")


def ip_score(kind: str, text: str, start: int) -> float:
    if _VERSION_BEFORE.search(text, max(0, start - 16), start):
        return 0.3
    return 0.8 if kind == "private" else 0.75


def jwt(value: str, text: str, start: int) -> float | None:
    import base64

    head = value.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except ValueError:
        return None
    return 0.95 if b'"alg"' in decoded or b'"typ"' in decoded else None
