"""Secrets: cloud and SaaS credentials, tokens, private keys, credentials in config, high-entropy values."""

from __future__ import annotations

import re

from veil.detectors import validators as v
from veil.detectors.base import PatternSpec
from veil.schemas import Category

SECRET = Category.SECRET

# a quoted value runs to its closing quote ("Tr0ub4dor&3"); a bare one to a space or a separator
_KV_VALUE = r"""["']?[ \t]*[:=][ \t]*(?:"(?P<v>[^"\s]{1,200})"|'(?P<v2>[^'\s]{1,200})'|(?P<v3>[^\s"',;&}\]]+))"""
#: A key name with a secret's word somewhere in it; :func:`_named_secret` decides from its parts.
_KEY_NAME = r"[A-Za-z0-9_.-]*?(?i:pass|pwd|secret|token|credential|auth|key)[A-Za-z0-9_.-]*"
#: Words of a key name that make it a password's or a token's name ("MYSQL_ROOT_PASSWORD", "RootPassword",
#: "npmAuthToken", "client_secret", "APIKEY"); "key" and "auth" only with a qualifier or alone as "_auth"/"auth".
_PASSWORD_PARTS = frozenset({"password", "passwd", "pass", "pwd", "passphrase", "passwort", "contraseña", "secret",
                             "secrets", "clientsecret"})
_TOKEN_PARTS = frozenset({"token", "tokens", "credential", "credentials", "creds", "apikey", "authtoken", "accesstoken"})
_KEY_QUALIFIERS = frozenset({"api", "private", "secret", "access", "auth", "signing", "encryption", "master", "client",
                             "license", "account", "storage", "app", "ssh", "hmac", "shared", "session", "crypto", "sas"})
#: Last words of a key that names something about a secret, not the secret ("password_file", "token_url").
_NOT_SECRET_SUFFIXES = frozenset({
    "file", "path", "url", "uri", "name", "type", "size", "length", "len", "count", "policy", "expiry", "expires",
    "ttl", "timeout", "format", "field", "prompt", "hint", "label", "header", "env", "var", "algorithm", "algo",
    "required", "enabled", "regex", "pattern", "mode", "id", "ids", "min", "max", "reset", "changed", "hash", "salt",
    "rounds", "store", "dir", "endpoint", "host", "user", "username", "authentication", "method", "provider", "location",
    "ref", "version", "lifetime", "age", "interval", "retries", "attempts", "strength", "complexity"})
_KEY_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_KEY_BEFORE = re.compile(
    r"""(?:(?P<a>[A-Za-z0-9_.-]+)["']?\s*[:=]\s*["']?|<(?P<b>[A-Za-z0-9_.:-]+)(?:\s[^<>]*)?>"""
    r"""|key\s*=\s*["'](?P<c>[^"']+)["']\s+value\s*=\s*["']|define\(\s*["'](?P<d>[^"']+)["']\s*,\s*["'])$""")


def _secret_kind(key: str) -> str | None:
    """"password", "token" or None for a key name, from its parts. In a dotted name only the last
    segment names the value ("spring.datasource.password"; "AppWindowToken.destroySurfaces:374" in
    a stack trace is a method and its line), the one before it may qualify a key ("api.key")."""
    *outer, last = key.split(".")
    parts = [p.lower() for p in _KEY_PARTS.findall(last)]
    if not parts or parts[-1] in _NOT_SECRET_SUFFIXES or "public" in parts or "pub" in parts:
        return None
    if any(p in _PASSWORD_PARTS for p in parts):
        return "password"
    if any(p in _TOKEN_PARTS for p in parts) or last.lower().strip("_") == "auth":
        return "token"
    before = [p.lower() for p in _KEY_PARTS.findall(outer[-1])][-1:] if outer else []
    qualified = before + parts
    if any(p in ("key", "keys") and i and qualified[i - 1] in _KEY_QUALIFIERS
           for i, p in enumerate(qualified) if i >= len(before)):
        return "token"
    return None


def _named_secret(kind: str):
    """A validator: the value is a secret when the key, element or constant before it is named for ``kind``."""
    def check(value: str, text: str, start: int) -> float | None:
        m = _KEY_BEFORE.search(text, max(0, start - 120), start)
        key = next((g for g in m.groups() if g), None) if m else None
        if key is None or _secret_kind(key.rsplit(":", 1)[-1]) != kind:
            return None
        bare = value.strip("'\"")
        if kind == "token" and bare.isdigit() and len(bare) < 8:
            return None  # a short number is a count, a port or a line, not a token
        return v.secret_value(value, text, start)
    return check


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
    if v.has_context(text, start, ("public key", "publickey", "public_key", "pubkey", "begin certificate", "ssh-rsa",
                                   "ssh-ed25519"), window=40):
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
    PatternSpec("PASSWORD", SECRET, rf"(?<![A-Za-z0-9_.-]){_KEY_NAME}\b{_KV_VALUE}", 0.9,
                "value assigned to a key named for a password", _named_secret("password"),
                triggers=("pass", "pwd", "secret")),
    PatternSpec("API_KEY", SECRET, rf"(?<![A-Za-z0-9_.-]){_KEY_NAME}\b{_KV_VALUE}", 0.9,
                "value assigned to a key named for a token or key", _named_secret("token"),
                triggers=("key", "token", "credential", "auth")),
    # an XML element or a key/value pair named for a secret: "<Pass>...</Pass>", "<add key="DbPassword" value="..."/>"
    PatternSpec("PASSWORD", SECRET, rf"<{_KEY_NAME}(?:\s[^<>]*)?>(?P<v>[^<>\s][^<>]{{2,200}}?)</",
                0.9, "XML element named for a password", _named_secret("password"), triggers=("pass", "pwd", "secret")),
    PatternSpec("API_KEY", SECRET, rf"<{_KEY_NAME}(?:\s[^<>]*)?>(?P<v>[^<>\s][^<>]{{2,200}}?)</",
                0.9, "XML element named for a token or key", _named_secret("token"), triggers=("token", "key", "credential")),
    PatternSpec("PASSWORD", SECRET, r"(?i)\bkey\s*=\s*[\"'][^\"']+[\"']\s+value\s*=\s*[\"'](?P<v>[^\"'\s]{3,200})[\"']",
                0.9, "configuration entry named for a password", _named_secret("password"), triggers=("value",)),
    # PHP: define('DB_PASSWORD', '...')
    PatternSpec("PASSWORD", SECRET, r"(?i)\bdefine\(\s*[\"'][^\"']+[\"']\s*,\s*[\"'](?P<v>[^\"']{3,200})[\"']",
                0.92, "PHP constant named for a password", _named_secret("password"), triggers=("define(",)),
    # .netrc: machine HOST login USER password SECRET
    PatternSpec("PASSWORD", SECRET, r"(?i)\bmachine\s+\S+\s+login\s+\S+\s+password\s+(?P<v>\S+)", 0.95,
                ".netrc entry", v.secret_value, triggers=("machine",)),
    # .pgpass: host:port:database:user:password
    PatternSpec("PASSWORD", SECRET, r"(?m)^(?:localhost|\*|[\w-]+(?:\.[\w-]+)+):(?:\d{2,5}|\*):[\w*-]+:[\w.*@-]+:(?P<v>[^\s:]{3,})$",
                0.9, ".pgpass entry", v.secret_value, triggers=(":",)),
    # password hashes: what a stolen file gives to a cracker
    PatternSpec("PASSWORD_HASH", SECRET,
                r"(?P<v>\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}"
                r"|\$(?:1|apr1)\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}"
                r"|\$[56]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}"
                r"|\$y\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{43}"
                r"|\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
                r"|\{(?:SHA|SSHA|SHA256|SSHA256|SHA512|SSHA512|MD5|SMD5)\}[A-Za-z0-9+/]{20,}={0,2}"
                r"|(?:pbkdf2_sha256|pbkdf2_sha1|bcrypt_sha256|scrypt)\$\d+\$[A-Za-z0-9./+=_-]+\$[A-Za-z0-9+/=]{16,})",
                0.95, "password hash (crypt, bcrypt, LDAP or Django format)", triggers=("$", "{")),
    PatternSpec("PASSWORD_HASH", SECRET, r"(?m)^[^:\s]+:\d+:(?P<v>[0-9A-Fa-f]{32}:[0-9A-Fa-f]{32}):::", 0.95,
                "LM:NT hash pair of a password dump", triggers=(":::",)),
    PatternSpec("PASSWORD_HASH", SECRET, r"(?<![\w*])(?P<v>\*[0-9A-F]{40})(?![\w])", 0.9, "MySQL password hash",
                triggers=("*",)),
    PatternSpec("PRIVATE_KEY", SECRET, r"PuTTY-User-Key-File-\d: [\s\S]*?Private-MAC: [0-9a-fA-F]+", 0.99,
                "PuTTY private key file", triggers=("putty-user-key-file",)),
    PatternSpec("HIGH_ENTROPY_SECRET", SECRET, r"(?<![A-Za-z0-9+/_=-])(?P<v>[A-Za-z0-9+/_=-]{24,})(?![A-Za-z0-9+/_=-])",
                0.8, "random-looking string after a secret-like word", _generic_entropy, triggers=_ENTROPY_CONTEXT),
)
