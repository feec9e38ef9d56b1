"""Infrastructure details: IPs, MACs, internal host names and domains, cloud resource identifiers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from veil.detectors import validators as v
from veil.detectors.base import PatternSpec
from veil.detectors.protocol import ONE_AT_A_TIME
from veil.schemas import Category, Finding, trusted

INFRA, PII = Category.INFRA, Category.PII

SPECS = (
    PatternSpec("MAC_ADDRESS", INFRA,
                r"(?<![\w:-])(?P<v>[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5})(?![\w:-])",
                0.9, "MAC address format"),
    PatternSpec("INTERNAL_HOSTNAME", INFRA,
                r"(?i)(?<![\w.-])(?P<v>[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:internal|corp|local|lan|intranet|intra|private|home\.arpa))\b(?!\.[\w-])",
                0.8, "host name under an internal-only domain",
                triggers=(".internal", ".corp", ".local", ".lan", ".intranet", ".intra", ".private", ".home.arpa")),
    PatternSpec("AWS_ARN", INFRA, r"\b(?P<v>arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[A-Za-z0-9_/:.+=@-]+)", 0.92,
                "AWS resource name with an account id", triggers=("arn:aws",)),
    PatternSpec("AWS_ACCOUNT_ID", INFRA, r"(?<!\d)(?P<v>\d{12})(?!\d)", 0.5, "12-digit AWS account id",
                context=("account", "aws", "owner"), context_boost=0.4, triggers=("account", "aws", "owner")),
    PatternSpec("CLOUD_RESOURCE_ID", INFRA,
                r"\b(?P<v>(?:i|vpc|subnet|sg|vol|ami|eni|snap|igw|rtb|nat|acl|lt|eipalloc|tgw)-[0-9a-f]{8}(?:[0-9a-f]{9})?)\b",
                0.85, "AWS resource id", triggers=("i-", "vpc-", "subnet-", "sg-", "vol-", "ami-", "eni-", "snap-",
                                                    "igw-", "rtb-", "nat-", "acl-", "lt-", "eipalloc-", "tgw-")),
    PatternSpec("GCP_RESOURCE", INFRA,
                r"(?P<v>\bprojects/[a-z][a-z0-9-]{4,28}[a-z0-9](?:/[A-Za-z0-9_.-]+)*)", 0.88, "GCP resource path",
                triggers=("projects/",)),
    PatternSpec("AZURE_RESOURCE_ID", INFRA,
                r"(?i)(?P<v>/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:/[A-Za-z0-9_.()-]+)*)",
                0.92, "Azure resource id", triggers=("/subscriptions/",)),
    PatternSpec("STORAGE_BUCKET", INFRA, r"(?P<v>\b(?:s3|gs)://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:/[^\s\"']*)?)", 0.85,
                "object storage bucket URL", triggers=("s3://", "gs://")),
)


class IPDetector:
    """IPv4 and IPv6 addresses; private ranges are infrastructure, public ones personal data."""

    name = "ip"
    entities = frozenset({"IP_ADDRESS"})
    reading = ONE_AT_A_TIME
    _v4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)")
    _v6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"
                     # after an interface or field name and a colon: "v6(en0:2607:f140::1)", "en0+:...", "addr:fe80::1"
                     r"|(?:(?<=[g-zG-Z]:)|(?<=[g-zG-Z]\d:)|(?<=[g-zG-Z]\d[-+!*]:))[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")

    _v4_gate = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")  # plain re is faster than RE2 here
    #: Every IPv6 address has eight groups or a "::"; a timestamp's "10:34:06" has neither.
    _v6_gate = re.compile(r"::|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}")
    # The screens (RE2): the same conditions with the edges ``_v4`` and ``_v6`` require, so a
    # timestamp's "15.42.50.675872" or a C++ "(0x0)::listenerCallback" does not pass them.
    screen = (
        r"(?:^|[^\d.])(?:\d{1,3}\.){3}\d{1,3}(?:[^\d.]|\.(?:\D|$)|$)",
        r"(?:^|[^\w:]|[g-zG-Z]\d?[-+!*]?:)(?:[0-9A-Fa-f:]*::[0-9A-Fa-f:]*|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7})"
        r"(?:[^\w:]|$)",
    )

    def detect(self, text: str) -> list[Finding]:
        hits = [0] if self._v4_gate.search(text) else []
        if "::" in text or (text.count(":") >= 7 and self._v6_gate.search(text)):
            hits.append(1)
        return self.detect_screened(text, hits) if hits else []

    def detect_screened(self, text: str, hits: Sequence[int]) -> list[Finding]:
        matches = []
        if 0 in hits:
            matches += [m for m in self._v4.finditer(text) if not _attached_version(text, m.start())]
        if 1 in hits:
            matches += self._v6.finditer(text)
        out = []
        for m in matches:
            kind = v.ip_kind(m.group(0))
            if kind is None:
                continue
            private = kind == "private"
            out.append(trusted(
                Finding, start=m.start(), end=m.end(), entity="IP_ADDRESS", category=INFRA if private else PII,
                detector=self.name, score=v.ip_score(kind, text, m.start()),
                reason="private-range IP address" if private else "public IP address",
            ))
        return out


#: Letters written against a version number ("v1.2.3.4", "build6.1.7601.1"); other letters are part of a
#: host name that carries the address ("host130.198.51.100.example.net")
_VERSION_LETTERS = frozenset({"v", "ver", "version", "build", "release", "rev", "r", "b"})


def _attached_version(text: str, start: int) -> bool:
    """Whether the dotted number at ``start`` is a version: right after a version letter, a Windows
    package's "~" ("~amd64~~6.1.1.1") or an underscore ("_6.1.1.1")."""
    before = text[start - 1:start]
    if before in ("~", "_"):
        return True
    if not before.isalpha():
        return False
    i = start - 1
    while i > 0 and text[i - 1].isalpha():
        i -= 1
    return text[i:start].lower() in _VERSION_LETTERS


class InternalDomainDetector:
    """Host names under the organisation's own domains, from configuration."""

    name = "internal-domain"
    entities = frozenset({"INTERNAL_HOSTNAME"})
    reading = ONE_AT_A_TIME

    def __init__(self, domains: Iterable[str]) -> None:
        self.domains = tuple(d.lower().lstrip(".") for d in domains)
        alternatives = "|".join(re.escape(d) for d in sorted(self.domains, key=len, reverse=True))
        self._rx = re.compile(rf"(?i)(?<![\w.-])((?:[a-z0-9-]+\.)*(?:{alternatives}))(?![\w-])") if self.domains else None
        self.screen = (f"(?i){alternatives}",) if self.domains else ()

    def detect(self, text: str) -> list[Finding]:
        lowered = text.lower()
        return self.detect_screened(text, [0]) if any(d in lowered for d in self.domains) else []

    def detect_screened(self, text: str, hits: Sequence[int]) -> list[Finding]:
        if self._rx is None:
            return []
        return [trusted(Finding, start=m.start(1), end=m.end(1), entity="INTERNAL_HOSTNAME", category=INFRA,
                        detector=self.name, score=0.92, reason="host under a configured internal domain")
                for m in self._rx.finditer(text)]
