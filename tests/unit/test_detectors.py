import pytest

from veil.detectors import default_detectors, scan

DETECTORS = default_detectors()


def entities(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in scan(text, DETECTORS):
        out.setdefault(f.entity, []).append(text[f.start:f.end])
    return out


POSITIVE = [
    ("EMAIL", "contact anna.berg+x@mail.example.org today", "anna.berg+x@mail.example.org"),
    ("CREDIT_CARD", "card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"),
    ("CREDIT_CARD", "amex 3782-822463-10005", "3782-822463-10005"),
    ("US_SSN", "SSN: 219-09-9999", "219-09-9999"),
    ("IBAN", "pay DE89 3704 0044 0532 0130 00 now", "DE89 3704 0044 0532 0130 00"),
    ("PHONE", "call +44 20 7946 0958", "+44 20 7946 0958"),
    ("PHONE", "call (415) 555-0199", "(415) 555-0199"),
    ("AWS_ACCESS_KEY", "id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("AWS_SECRET_KEY", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("GITHUB_TOKEN", "tok ghp_" + "a1B2" * 9, "ghp_" + "a1B2" * 9),
    ("GITLAB_TOKEN", "GITLAB=glpat-x9Yq3Zt7Lm2Kp4Rv8Ws1", "glpat-x9Yq3Zt7Lm2Kp4Rv8Ws1"),
    ("SLACK_TOKEN", "xoxb-2048-1234567890-AbCdEfGh", "xoxb-2048-1234567890-AbCdEfGh"),
    ("STRIPE_KEY", "key sk_live_51HqLyjWDarjtT1zdp7dc", "sk_live_51HqLyjWDarjtT1zdp7dc"),
    ("GOOGLE_API_KEY", "AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSyA-1234567890abcdefghijklmnopqrstu"),
    ("JWT", "t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU"),
    ("BEARER_TOKEN", "Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234"),
    ("BASIC_AUTH", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("URL_CREDENTIALS", "redis://app:s3cr3t@cache:6379/0", "s3cr3t"),
    ("PASSWORD", "password=hunter22", "hunter22"),
    ("PASSWORD", '{"password": "hunter22"}', "hunter22"),
    ("PASSWORD", "db:\n  password: Qx7!pLm2", "Qx7!pLm2"),
    ("API_KEY", "api_key=zW3xY9qP0rT5", "zW3xY9qP0rT5"),
    ("PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
     "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"),
    ("MAC_ADDRESS", "mac 3c:22:fb:91:0a:7e up", "3c:22:fb:91:0a:7e"),
    ("INTERNAL_HOSTNAME", "pushed to registry.corp.internal", "registry.corp.internal"),
    ("IP_ADDRESS", "from 10.1.2.3 port", "10.1.2.3"),
    ("IP_ADDRESS", "from 203.0.113.45", "203.0.113.45"),
    ("IP_ADDRESS", "v6 2001:db8::8a2e:370:7334 up", "2001:db8::8a2e:370:7334"),
]

NEGATIVE = [
    ("CREDIT_CARD", "order 4111 1111 1111 1112 shipped"),  # Luhn fails
    ("CREDIT_CARD", "id 0000 0000 0000 0000"),
    ("US_SSN", "ssn 666-12-3456"),  # invalid area
    ("US_SSN", "ssn 123-00-4567"),  # invalid group
    ("IBAN", "DE89 3704 0044 0532 0130 01"),  # mod-97 fails
    ("EMAIL", "see @mentions and user@localhost"),
    ("IP_ADDRESS", "listening on 127.0.0.1 and 0.0.0.0"),
    ("IP_ADDRESS", "value 999.1.1.1"),
    ("IP_ADDRESS", "time 12:30:45"),
    ("PASSWORD", "password=<PASSWORD_1>"),  # already redacted
    ("PASSWORD", "password: ****"),
    ("JWT", "eyJub3Rqc29u.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU"),  # header not JSON with alg/typ
    ("AWS_ACCESS_KEY", "AKIA1234"),
    ("MAC_ADDRESS", "3c:22-fb:91:0a:7e"),  # mixed separators
]


@pytest.mark.parametrize(("entity", "text", "value"), POSITIVE, ids=[f"{e}-{i}" for i, (e, *_) in enumerate(POSITIVE)])
def test_when_value_present_then_detected(entity, text, value):
    assert value in entities(text).get(entity, []), entities(text)


@pytest.mark.parametrize(("entity", "text"), NEGATIVE, ids=[f"{e}-{i}" for i, (e, _) in enumerate(NEGATIVE)])
def test_when_lookalike_then_not_detected(entity, text):
    assert entity not in entities(text)


def test_when_version_number_then_ip_scores_low():
    [f] = [f for f in scan("upgraded to version 1.2.3.4", DETECTORS) if f.entity == "IP_ADDRESS"]
    assert f.score < 0.5


def test_when_private_ip_then_infra_category():
    [f] = scan("host 192.168.7.22", DETECTORS)
    assert f.category.value == "infra"
    [g] = scan("client 8.8.4.4", DETECTORS)
    assert g.category.value == "pii"


def test_when_spans_overlap_then_one_survives_with_highest_score():
    text = "postgres://app:s3cr3t@db.internal:5432/x"
    found = scan(text, DETECTORS)
    for a, b in zip(found, found[1:]):
        assert a.end <= b.start
    assert any(f.entity == "URL_CREDENTIALS" and text[f.start:f.end] == "s3cr3t" for f in found)
