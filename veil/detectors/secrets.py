"""Secrets: cloud and SaaS credentials, tokens, private keys, credentials in config, high-entropy values."""

from __future__ import annotations

import re

from schemas import Category
from veil.detectors import validators as v
from veil.detectors.base import PatternSpec

SECRET = Category.SECRET

_SECRET_KEYS = r"password|passwd|pwd|passphrase|secret|client_secret|db_pass(?:word)?|pass"
_TOKEN_KEYS = (r"api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|token|private[_-]?key|"
               r"secret[_-]?key|access[_-]?key|credentials?")
_KV_VALUE = r"""["']?\s*[:=]\s*["']?(?P<v>[^\s"',;&}\]]+)"""
_ENTROPY_CONTEXT = ("key", "token", "secret", "auth", "credential", "signature", "session", "cookie")


_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _generic_entropy(value: str, text: str, start: int) -> float | None:
    """A long random-looking string close after a secret-ish word."""
    if v.shannon_entropy(value) < 3.8 or value.isdigit() or value.isalpha():
        return None
    if "=" in value.rstrip("=") or _GUID.fullmatch(value):
        return None  # "NSErrorDomainKey=12" is a key and its value; a GUID names a thing
    if not v.has_context(text, start, _ENTROPY_CONTEXT, window=24):
        return None
    if v.has_context(text, start, ("public key", "begin certificate", "ssh-rsa", "ssh-ed25519"), window=40):
        return None  # public material is not secret
    return 0.8


SPECS = (
    PatternSpec("PRIVATE_KEY", SECRET,
                r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
                0.99, "PEM/OpenSSH private key block", triggers=("private key-----",)),
    PatternSpec("PGP_PRIVATE_KEY", SECRET,
                r"-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]*?-----END PGP PRIVATE KEY BLOCK-----",
                0.99, "PGP private key block", triggers=("pgp private key block",)),
    PatternSpec("AWS_ACCESS_KEY", SECRET, r"\b(?P<v>(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b", 0.97,
                "AWS access key id prefix", triggers=("akia", "asia", "abia", "acca")),
    PatternSpec("AWS_SECRET_KEY", SECRET,
                r"(?i)aws.{0,24}?(?:secret|sk).{0,24}?[=:]\s*[\"']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
                0.95, "40-character AWS secret next to its key name", triggers=("aws",)),
    PatternSpec("GITHUB_TOKEN", SECRET, r"\b(?P<v>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b",
                0.98, "GitHub token prefix", triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    PatternSpec("GITLAB_TOKEN", SECRET, r"\b(?P<v>gl(?:pat|dt|rt|ptt)-[A-Za-z0-9_-]{20,})", 0.98,
                "GitLab token prefix", triggers=("glpat-", "gldt-", "glrt-", "glptt-")),
    PatternSpec("SLACK_TOKEN", SECRET, r"\b(?P<v>xox[abposr]-[A-Za-z0-9-]{10,})", 0.98, "Slack token prefix",
                triggers=("xox",)),
    PatternSpec("SLACK_WEBHOOK", SECRET,
                r"(?P<v>https://hooks\.slack\.com/(?:services|workflows)/T[A-Z0-9]+/[A-Z0-9]+/[A-Za-z0-9]+)", 0.98,
                "Slack incoming webhook URL", triggers=("hooks.slack.com",)),
    PatternSpec("DISCORD_WEBHOOK", SECRET,
                r"(?P<v>https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]+)", 0.98,
                "Discord webhook URL", triggers=("discord",)),
    PatternSpec("STRIPE_KEY", SECRET, r"\b(?P<v>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})", 0.98,
                "Stripe secret key prefix", triggers=("sk_live_", "sk_test_", "rk_live_", "rk_test_")),
    PatternSpec("GOOGLE_API_KEY", SECRET, r"\b(?P<v>AIza[0-9A-Za-z_-]{35})", 0.95, "Google API key prefix",
                triggers=("aiza",)),
    PatternSpec("GCP_SERVICE_ACCOUNT_KEY", SECRET, r"\"private_key_id\"\s*:\s*\"(?P<v>[0-9a-f]{40})\"", 0.97,
                "GCP service-account key id", triggers=("private_key_id",)),
    PatternSpec("AZURE_STORAGE_KEY", SECRET, r"(?i)AccountKey=(?P<v>[A-Za-z0-9+/]{86}==)", 0.98,
                "Azure storage account key in a connection string", triggers=("accountkey=",)),
    PatternSpec("AZURE_SAS_TOKEN", SECRET, r"[?&]sig=(?P<v>[A-Za-z0-9%+/]{30,}={0,2})", 0.95,
                "Azure shared access signature", triggers=("sig=",)),
    PatternSpec("AZURE_CLIENT_SECRET", SECRET, r"(?<![A-Za-z0-9_~.-])(?P<v>[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?![A-Za-z0-9_~.-])",
                0.95, "Azure AD client secret format", triggers=("q~",)),
    PatternSpec("TWILIO_API_KEY", SECRET, r"\b(?P<v>SK[0-9a-f]{32})\b", 0.9, "Twilio API key format", triggers=("sk",)),
    PatternSpec("SENDGRID_API_KEY", SECRET, r"\b(?P<v>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})", 0.98,
                "SendGrid API key format", triggers=("sg.",)),
    PatternSpec("NPM_TOKEN", SECRET, r"\b(?P<v>npm_[A-Za-z0-9]{36})\b", 0.98, "npm access token prefix", triggers=("npm_",)),
    PatternSpec("PYPI_TOKEN", SECRET, r"\b(?P<v>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})", 0.98, "PyPI upload token prefix",
                triggers=("pypi-ageichlwas5vcmc",)),
    PatternSpec("OPENAI_API_KEY", SECRET, r"\b(?P<v>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,})",
                0.98, "OpenAI API key format", triggers=("t3blbkfj",)),
    PatternSpec("HUGGINGFACE_TOKEN", SECRET, r"\b(?P<v>hf_[A-Za-z]{34})\b", 0.95, "Hugging Face token prefix",
                triggers=("hf_",)),
    PatternSpec("JWT", SECRET, r"\b(?P<v>eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{8,})", 0.95,
                "JSON Web Token with a decodable header", v.jwt, triggers=("eyj",)),
    PatternSpec("BEARER_TOKEN", SECRET, r"(?i)\bbearer\s+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)", 0.9,
                "Bearer authorization value", triggers=("bearer",)),
    PatternSpec("BASIC_AUTH", SECRET, r"(?i)\bbasic\s+(?P<v>[A-Za-z0-9+/]{12,}={0,2})", 0.88,
                "Basic authorization value", triggers=("basic",)),
    PatternSpec("URL_CREDENTIALS", SECRET, r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:(?P<v>[^\s@/]+)@", 0.96,
                "password embedded in a URL or connection string", triggers=("://",)),
    # "RootPassword=", "db.admin_password:": a key that ends in a password word is a password key.
    PatternSpec("PASSWORD", SECRET, rf"(?i)\b(?:(?:[a-z0-9]+[_.-]?)?(?:password|passwd|passphrase)|{_SECRET_KEYS})\b{_KV_VALUE}", 0.9,
                "value assigned to a password-like key", v.secret_value,
                triggers=("pass", "pwd", "secret")),
    PatternSpec("API_KEY", SECRET, rf"(?i)\b(?:{_TOKEN_KEYS})\b{_KV_VALUE}", 0.9,
                "value assigned to a token-like key", v.secret_value,
                triggers=("key", "token", "credential")),
    PatternSpec("HIGH_ENTROPY_SECRET", SECRET, r"(?<![A-Za-z0-9+/_=-])(?P<v>[A-Za-z0-9+/_=-]{24,})(?![A-Za-z0-9+/_=-])",
                0.8, "random-looking string after a secret-like word", _generic_entropy, triggers=_ENTROPY_CONTEXT),
)
