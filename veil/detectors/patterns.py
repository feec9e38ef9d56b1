"""The built-in detector table: personal data, secrets and infrastructure details.

Scores at or above the policy's ``auto_redact_score`` (0.85 by default) mean the format or a
checksum is strong evidence on its own; lower scores go to the security model.
"""

from __future__ import annotations

import re

from schemas import Category
from veil.detectors import validators as v
from veil.detectors.base import PatternDetector, PatternSpec

PII, SECRET, INFRA = Category.PII, Category.SECRET, Category.INFRA

_SECRET_KEYS = r"password|passwd|pwd|passphrase|secret|client_secret|db_pass(?:word)?"
_TOKEN_KEYS = r"api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|token|private[_-]?key|secret[_-]?key"
_KV_VALUE = r"""["']?\s*[:=]\s*["']?(?P<v>[^\s"',;&}\]]+)"""


def _iban(value: str, text: str, start: int) -> float | None:
    compact = value.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return None
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(c, 36)) for c in rearranged)
    return 0.95 if int(digits) % 97 == 1 else None


PII_SPECS = (
    PatternSpec("EMAIL", PII, r"(?<![\w.+-])(?P<v>[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24})(?![\w-])",
                0.95, "e-mail address format"),
    PatternSpec("CREDIT_CARD", PII, r"(?<![\d-])(?P<v>\d(?:[ -]?\d){12,18})(?![\d-])", 0.95,
                "card number with valid Luhn checksum", v.credit_card),
    PatternSpec("US_SSN", PII, r"(?<![\d-])(?P<v>\d{3}-\d{2}-\d{4})(?![\d-])", 0.7,
                "US SSN format outside invalid ranges", v.us_ssn),
    PatternSpec("IBAN", PII, r"\b(?P<v>[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)\b", 0.95,
                "IBAN with valid mod-97 checksum", _iban),
    PatternSpec("PHONE", PII, r"(?<![\w+])(?P<v>\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4})(?![\d])", 0.75,
                "international phone number format"),
    PatternSpec("PHONE", PII, r"(?<!\d)(?P<v>\(\d{3}\) ?\d{3}-\d{4})(?!\d)", 0.75, "North American phone number format"),
)

SECRET_SPECS = (
    PatternSpec("PRIVATE_KEY", SECRET,
                r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
                0.99, "PEM private key block"),
    PatternSpec("AWS_ACCESS_KEY", SECRET, r"\b(?P<v>(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b", 0.97, "AWS access key id prefix"),
    PatternSpec("AWS_SECRET_KEY", SECRET,
                r"(?i)aws.{0,24}?(?:secret|sk).{0,24}?[=:]\s*[\"']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
                0.95, "40-character AWS secret next to its key name"),
    PatternSpec("GITHUB_TOKEN", SECRET, r"\b(?P<v>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b",
                0.98, "GitHub token prefix"),
    PatternSpec("GITLAB_TOKEN", SECRET, r"\b(?P<v>glpat-[A-Za-z0-9_-]{20,})", 0.98, "GitLab personal token prefix"),
    PatternSpec("SLACK_TOKEN", SECRET, r"\b(?P<v>xox[abposr]-[A-Za-z0-9-]{10,})", 0.98, "Slack token prefix"),
    PatternSpec("STRIPE_KEY", SECRET, r"\b(?P<v>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})", 0.98, "Stripe secret key prefix"),
    PatternSpec("GOOGLE_API_KEY", SECRET, r"\b(?P<v>AIza[0-9A-Za-z_-]{35})", 0.95, "Google API key prefix"),
    PatternSpec("JWT", SECRET, r"\b(?P<v>eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{8,})", 0.95,
                "JSON Web Token with a decodable header", v.jwt),
    PatternSpec("BEARER_TOKEN", SECRET, r"(?i)\bbearer\s+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)", 0.9, "Bearer authorization value"),
    PatternSpec("BASIC_AUTH", SECRET, r"(?i)\bbasic\s+(?P<v>[A-Za-z0-9+/]{12,}={0,2})", 0.88, "Basic authorization value"),
    PatternSpec("URL_CREDENTIALS", SECRET, r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:(?P<v>[^\s@/]+)@", 0.96,
                "password embedded in a URL or connection string"),
    PatternSpec("PASSWORD", SECRET, rf"(?i)\b(?:{_SECRET_KEYS})\b{_KV_VALUE}", 0.9,
                "value assigned to a password-like key", v.secret_value),
    PatternSpec("API_KEY", SECRET, rf"(?i)\b(?:{_TOKEN_KEYS})\b{_KV_VALUE}", 0.9,
                "value assigned to a token-like key", v.secret_value),
)

INFRA_SPECS = (
    PatternSpec("MAC_ADDRESS", INFRA, r"(?<![\w:-])(?P<v>[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\2[0-9A-Fa-f]{2}){4})(?![\w:-])",
                0.9, "MAC address format"),
    PatternSpec("INTERNAL_HOSTNAME", INFRA,
                r"(?i)\b(?P<v>[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:internal|corp|local|lan|intranet|intra))\b",
                0.8, "host name under an internal-only domain"),
)


class IPDetector:
    """IPv4 and IPv6 addresses; private ranges are infrastructure, public ones personal data."""

    name = "ip"
    _v4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)")
    _v6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")

    def detect(self, text: str):
        import ipaddress

        from schemas import Finding

        out = []
        for rx in (self._v4, self._v6):
            for m in rx.finditer(text):
                value, start = m.group(0), m.start()
                score = v.ip_address(value, text, start)
                if score is None:
                    continue
                private = ipaddress.ip_address(value).is_private
                out.append(Finding(
                    start=start, end=m.end(), entity="IP_ADDRESS", category=INFRA if private else PII,
                    detector=self.name, score=score,
                    reason="private-range IP address" if private else "public IP address",
                ))
        return out


def default_detectors() -> list:
    """The deterministic detectors every pipeline runs."""
    return [
        PatternDetector(name="pii", specs=PII_SPECS),
        PatternDetector(name="secrets", specs=SECRET_SPECS),
        PatternDetector(name="infra", specs=INFRA_SPECS),
        IPDetector(),
    ]
