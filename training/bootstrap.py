"""The project's own bootstrap corpus for the judge: generated values in templates to redact, and
look-alikes to keep (versions, documentation addresses, digests, product names, test cards,
placeholders). Its templates are not the evaluation set's, so the evaluation stays a test of
generalisation.

Every rendering of one template shares a record id, so the split puts a template wholly on one side:
the held-out split asks about templates the judge was not tuned on.
"""

from __future__ import annotations

import random
import re
from importlib import resources

from veil.evaluation.dataset import LABEL_OF
from veil.evaluation.values import CITIES, DOMAINS, GENERATORS
from veil.models.roles import marked_context
from veil.training.examples import JudgeExample

_ROLE_MAILBOXES = ["noreply", "no-reply", "postmaster", "abuse", "alerts", "security", "mailer-daemon", "notifications"]
_PLACEHOLDER = re.compile(r"\{([A-Z_0-9]+)\}")
_KEEP_CATEGORY = {"IP_ADDRESS": "infra", "INTERNAL_HOSTNAME": "infra", "MAC_ADDRESS": "infra",
                  "HIGH_ENTROPY_SECRET": "secret", "PASSWORD": "secret", "AWS_ACCESS_KEY": "secret",
                  "AWS_SECRET_KEY": "secret", "API_KEY": "secret", "JWT": "secret"}


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _uuid(rng: random.Random) -> str:
    h = _hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{rng.choice('89ab')}{h[17:20]}-{h[20:]}"


# Values a detector flags but that are not sensitive. The fixed lists are public facts: documentation
# address ranges (RFC 5737), public resolvers, payment providers' published test cards, AWS's
# documentation keys, well-known multicast and broadcast addresses.
KEEP_VALUES = {
    "VERSION": lambda rng: f"{rng.randint(1, 24)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}.{rng.randint(0, 9)}",
    "DOC_IP": lambda rng: f"{rng.choice(['192.0.2', '198.51.100', '203.0.113'])}.{rng.randint(1, 254)}",
    "RESOLVER": lambda rng: rng.choice(["8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "208.67.222.222"]),
    "LOCAL_IP": lambda rng: rng.choice(["127.0.0.1", "0.0.0.0", "255.255.255.0", "255.255.255.255", "127.0.0.53"]),
    "GIT_SHA": lambda rng: _hex(rng, 40),
    "SHORT_SHA": lambda rng: _hex(rng, rng.choice([7, 8, 10, 12])),
    "SHA256": lambda rng: _hex(rng, 64),
    "UUID": _uuid,
    "TRACE_ID": lambda rng: _hex(rng, 32),
    "PRODUCT": lambda rng: rng.choice([
        "Kafka Streams", "PostgreSQL", "Kubernetes", "Grafana", "Elasticsearch", "Redis", "Terraform", "Ray Serve",
        "Spring Boot", "Apache Airflow", "OpenTelemetry", "Prometheus", "Jenkins", "GitHub Actions", "Argo CD",
        "Visual Studio Code", "Logstash", "RabbitMQ", "Cassandra", "Keycloak", "HashiCorp Vault", "Sentry"]),
    "DOC_TITLE": lambda rng: rng.choice([
        "Release Notes", "Getting Started", "Security Advisory", "Migration Guide", "Code of Conduct",
        "Terms of Service", "Privacy Policy", "Quick Start", "Admin Console", "Service Desk", "Dark Mode",
        "Single Sign-On", "Audit Log", "Status Page", "Change Advisory Board"]),
    "ROLE_EMAIL": lambda rng: f"{rng.choice(_ROLE_MAILBOXES)}@{rng.choice(DOMAINS)}",
    "TEST_CARD": lambda rng: rng.choice(["4111 1111 1111 1111", "4242 4242 4242 4242", "5555 5555 5555 4444",
                                         "4000 0566 5566 5556", "3782 822463 10005", "6011 1111 1111 1117"]),
    "BUILD": lambda rng: f"2026{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}.{rng.randint(1, 40)}",
    "EPOCH_MS": lambda rng: str(rng.randint(1_700_000_000_000, 1_800_000_000_000)),
    "ORDER": lambda rng: f"{rng.randint(1000, 9999)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
    "REGION": lambda rng: rng.choice(["Europe", "North America", "Asia Pacific", "South America", "EMEA", "APAC"]),
    "TIMEZONE": lambda rng: rng.choice(["UTC", "CET", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]),
    "MASKED": lambda rng: rng.choice(["<redacted>", "********", "${DB_PASSWORD}", "{{ secrets.DEPLOY_TOKEN }}",
                                      "[REDACTED]", "xxxxxxxx", "<your-api-key>", "YOUR_TOKEN_HERE", "$(cat /run/secrets/db)"]),
    "DOC_AWS_KEY": lambda rng: rng.choice(["AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE"]),
    "DOC_AWS_SECRET": lambda rng: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "PUBLIC_HOST": lambda rng: rng.choice(["www.example.com", "api.github.com", "pypi.org", "registry.npmjs.org",
                                           "docs.python.org", "cdn.jsdelivr.net", "ghcr.io", "quay.io"]),
    "SPECIAL_MAC": lambda rng: rng.choice(["ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "01:00:5e:00:00:fb",
                                           "33:33:00:00:00:01"]),
    "CLASS_NAME": lambda rng: rng.choice(["UserAccount", "OrderService", "PaymentGateway", "SessionManager",
                                          "RetryPolicy", "InvoiceBuilder"]),
    "PORT": lambda rng: str(rng.choice([5432, 6379, 8080, 9092, 9200, 443, 8443, 27017])),
}


# Redact-side generators for entities the evaluation generators do not cover: a secret the detectors
# only know by its entropy, a person's town, a person's employer.
#: Small private organisations, the kind whose name says something about a person (an employer, a
#: clinic, a family trust); invented here.
ORGANIZATIONS = ("Brightwater Dental", "Keller & Rossi LLP", "Northgate Logistics", "St. Anne's Clinic",
                 "Okafor Family Trust", "Linwood Bakery", "Ashby Plumbing", "Hartley & Sons Builders",
                 "Greenfield Primary School", "Oakridge Veterinary Practice", "Nakamura Accounting",
                 "Bergstrom Auto Repair", "Riverside Physiotherapy", "Castillo Legal Aid")
SENSITIVE_EXTRA = {
    "HIGH_ENTROPY_SECRET": (lambda rng: "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                                                for _ in range(rng.choice([32, 40, 44]))), "secret"),
    "LOCATION": (lambda rng: rng.choice(CITIES)[0], "pii"),
    "ORGANIZATION": (lambda rng: rng.choice(ORGANIZATIONS), "pii"),
}


def lines() -> list[str]:
    raw = resources.files("veil.training").joinpath("data/bootstrap.txt").read_text(encoding="utf-8")
    return [ln for ln in raw.splitlines() if ln.strip() and not ln.startswith("#")]


def _render(template: str, rng: random.Random, values) -> tuple[str, list[tuple[int, int, str]]]:
    out, spans, pos = "", [], 0
    for m in _PLACEHOLDER.finditer(template):
        out += template[pos:m.start()]
        value = values(m.group(1), rng)
        spans.append((len(out), len(out) + len(value), m.group(1)))
        out += value
        pos = m.end()
    return out + template[pos:], spans


def _generator(kind: str):
    return GENERATORS.get(kind) or SENSITIVE_EXTRA[kind]


def _sensitive(kind: str, rng: random.Random) -> str:
    return _generator(kind)[0](rng)


def _keep(kind: str, rng: random.Random) -> str:
    return KEEP_VALUES[kind](rng)


def examples(per_template: int = 4, *, seed: int = 2026, context_chars: int = 120) -> list[JudgeExample]:
    """``R`` lines: every placeholder is a value to redact. ``K ENTITY`` lines: the ``[[ ]]`` span is
    a look-alike to keep; placeholders in it draw from :data:`KEEP_VALUES`."""
    rng = random.Random(seed)
    out: list[JudgeExample] = []
    for i, line in enumerate(lines()):
        kind, rest = line.split(" ", 1)
        rid = f"boot-{i:03d}"
        if kind == "R":
            for k in range(per_template):
                text, spans = _render(rest, rng, _sensitive)
                for start, end, kind_ in spans:
                    out.append(JudgeExample(
                        id=f"{rid}-{k}:{start}-{end}", record_id=rid, context=marked_context(text, start, end, context_chars),
                        entity=LABEL_OF.get(kind_, kind_), category=_generator(kind_)[1], label="redact",
                        source="bootstrap", confidence=1.0))
        elif kind == "K":
            entity, template = rest.split(" ", 1)
            if "[[" not in template or "]]" not in template:
                raise ValueError(f"bootstrap line {i + 1}: a K line marks the span to keep with [[ ]]")
            seen = set()
            for k in range(per_template if _PLACEHOLDER.search(template) else 1):
                text, _ = _render(template, rng, _keep)
                if text in seen:
                    continue
                seen.add(text)
                out.append(JudgeExample(id=f"{rid}-{k}", record_id=rid, context=text, entity=entity,
                                        category=_KEEP_CATEGORY.get(entity, "pii"), label="keep", source="bootstrap",
                                        confidence=1.0))
        else:
            raise ValueError(f"bootstrap line {i + 1}: starts with {kind!r}, not R or K")
    return out
