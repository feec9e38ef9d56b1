"""Generators of realistic fake values, one per label type, valid where a checksum applies.

Used to build the evaluation set and the benchmark logs. Every value is synthetic: nothing here
is a real person, account or key. Name and place lists are for generating data only; no detector
reads them (names are found by NER/LLM, not by a list).
"""

from __future__ import annotations

import random
import string

from veil.detectors import checksums as ck

FIRST = ["Laura", "Marco", "Priya", "Jonas", "Ana", "Tom", "Olivia", "Daniel", "Nina", "Samuel", "Chen", "Fatima",
         "Lukas", "Sofia", "Mateo", "Aisha", "Henrik", "Yuki", "Omar", "Elena", "Kwame", "Ingrid", "Raj", "Lucía"]
LAST = ["Jensen", "Rossi", "Natarajan", "Keller", "Souza", "Becker", "Smith", "Kim", "Petrova", "Okafor", "Wang",
        "Haddad", "Schmidt", "García", "Mensah", "Lindqvist", "Tanaka", "Nguyen", "Moreau", "Kowalski", "Brown"]
STREETS = ["Elm", "Oak", "Maple", "Cedar", "Pine", "Lake", "Hill", "Park", "River", "Sunset", "Highland", "Church"]
STREET_TYPES = ["Street", "Avenue", "Road", "Lane", "Drive", "Boulevard", "Court", "Way"]
CITIES = [("Springfield", "IL"), ("Portland", "OR"), ("Austin", "TX"), ("Madison", "WI"), ("Denver", "CO"),
          ("Raleigh", "NC"), ("Boston", "MA"), ("Columbus", "OH")]
DE_STREETS = ["Haupt", "Bahnhof", "Garten", "Schul", "Linden", "Berg", "Wald", "Kirch"]
DE_SUFFIX = ["straße", "weg", "gasse", "platz", "allee"]
DE_CITIES = [("10115", "Berlin"), ("80331", "München"), ("20095", "Hamburg"), ("50667", "Köln")]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.de", "corp.example.co.uk"]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + _digits(rng, length - len(prefix) - 1)
    for d in string.digits:
        if ck.luhn(body + d):
            return body + d
    raise AssertionError("unreachable")


def person(rng):
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def email(rng):
    first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower()
    first = first.encode("ascii", "ignore").decode() or "user"
    last = last.encode("ascii", "ignore").decode() or "x"
    return f"{first}{rng.choice(['.', '_', ''])}{last}{rng.choice(['', str(rng.randint(1, 99))])}@{rng.choice(DOMAINS)}"


def phone(rng):
    return rng.choice([
        lambda: f"+1 {rng.choice(['415', '212', '617', '303'])} {rng.randint(200, 999)} {_digits(rng, 4)}",
        lambda: f"+44 20 7946 {_digits(rng, 4)}",
        lambda: f"+49 30 {rng.randint(200, 999)}{_digits(rng, 4)}",
        lambda: f"+33 1 {rng.randint(40, 49)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}",
        lambda: f"({rng.choice(['415', '212', '617'])}) {rng.randint(200, 999)}-{_digits(rng, 4)}",
    ])()


def credit_card(rng):
    raw = _luhn_complete(rng, rng.choice(["4", "51", "52", "55"]), 16)
    sep = rng.choice(["", " ", "-"])
    return sep.join(raw[i:i + 4] for i in range(0, 16, 4))


def iban(rng):
    country, bank = rng.choice([("DE", 18), ("GB", 18), ("FR", 23), ("NL", 14)])
    if country == "GB":
        bban = "NWBK" + _digits(rng, 14)
    elif country == "NL":
        bban = "ABNA" + _digits(rng, 10)
    else:
        bban = _digits(rng, bank)
    for check in range(2, 99):
        candidate = f"{country}{check:02d}{bban}"
        if ck.iban_mod97(candidate):
            return " ".join(candidate[i:i + 4] for i in range(0, len(candidate), 4))
    raise AssertionError("unreachable")


def us_ssn(rng):
    return f"{rng.randint(100, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def ipv4_public(rng):
    return f"{rng.choice([23, 34, 52, 81, 93, 151, 185, 203])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ipv4_private(rng):
    return rng.choice([f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                       f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                       f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"])


def mac(rng):
    return ":".join(f"{rng.randint(0, 255):02x}" for _ in range(6))


def nl_bsn(rng):
    while True:
        d = _digits(rng, 9)
        if d[0] != "0" and ck.nl_bsn(d):
            return d


def aadhaar(rng):
    while True:
        d = str(rng.randint(2, 9)) + _digits(rng, 11)
        if ck.verhoeff(d):
            return f"{d[:4]} {d[4:8]} {d[8:]}"


def br_cpf(rng):
    while True:
        d = _digits(rng, 11)
        if ck.br_cpf(d):
            return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


def es_dni(rng):
    n = rng.randint(10_000_000, 99_999_999)
    return f"{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"


def address(rng):
    city, state = rng.choice(CITIES)
    return f"{rng.randint(1, 9999)} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)}, {city}, {state} {_digits(rng, 5)}"


def address_de(rng):
    plz, city = rng.choice(DE_CITIES)
    return f"{rng.choice(DE_STREETS)}{rng.choice(DE_SUFFIX)} {rng.randint(1, 120)}, {plz} {city}"


def dob(rng):
    return rng.choice([f"{rng.randint(1950, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                       f"{rng.randint(1, 28)} {rng.choice(['March', 'July', 'October', 'January'])} {rng.randint(1950, 2004)}"])


def aws_access_key(rng):
    return "AKIA" + _alnum(rng, 16, string.ascii_uppercase + string.digits)


def aws_secret_key(rng):
    return _alnum(rng, 40, string.ascii_letters + string.digits + "/+")


def github_token(rng):
    return "ghp_" + _alnum(rng, 36)


def gitlab_token(rng):
    return "glpat-" + _alnum(rng, 20)


def slack_token(rng):
    return f"xoxb-{_digits(rng, 11)}-{_digits(rng, 12)}-{_alnum(rng, 24)}"


def stripe_key(rng):
    return "sk_live_" + _alnum(rng, 24)


def jwt(rng):
    import base64
    import json

    def seg(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    header, claims = seg({"alg": "HS256", "typ": "JWT"}), seg({"sub": _digits(rng, 6), "exp": rng.randint(10**9, 2 * 10**9)})
    return f"{header}.{claims}.{_alnum(rng, 43, string.ascii_letters + string.digits + '-_')}"


def password(rng):
    return _alnum(rng, rng.randint(10, 16), string.ascii_letters + string.digits + "!#%*")


def api_key(rng):
    return _alnum(rng, 32, string.ascii_lowercase + string.digits)


def sendgrid_key(rng):
    return f"SG.{_alnum(rng, 22)}.{_alnum(rng, 43)}"


def npm_token(rng):
    return "npm_" + _alnum(rng, 36)


def private_key(rng):
    body = "\n".join(_alnum(rng, 64, string.ascii_letters + string.digits + "+/") for _ in range(3))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"


def internal_host(rng):
    role, number, zone = rng.choice(["db", "cache", "api", "build", "vault", "kafka"]), rng.randint(1, 40), rng.choice(["prod", "stg", "eu"])
    return f"{role}-{number:02d}.{zone}.corp.internal"


def syslog_host(rng):
    """A machine's name as a syslog header writes it: short, no domain."""
    return rng.choice([f"bastion-{rng.randint(1, 9):02d}", f"web-{rng.choice(['eu', 'us'])}-{rng.randint(1, 30)}",
                       f"ip-10-0-{rng.randint(0, 9)}-{rng.randint(2, 250)}", f"jump{rng.randint(1, 4)}",
                       f"node-{rng.randint(1, 400)}", f"ops-{rng.choice(['gw', 'mq', 'ci'])}{rng.randint(1, 9)}"])


def login(rng):
    """An account name as logs write it."""
    first, last = rng.choice(["ana", "jo", "lukas", "mei", "omar", "priya"]), rng.choice(["berg", "kim", "novak", "silva"])
    return rng.choice([f"{first[0]}{last}", f"{first}.{last}", f"{first}_{last}{rng.randint(1, 99)}", f"svc_{last}"])


def aws_arn(rng):
    return f"arn:aws:iam::{_digits(rng, 12)}:role/{rng.choice(['deploy', 'ci-runner', 'reader'])}-{rng.randint(1, 9)}"


#: label type -> (generator, category)
GENERATORS = {
    "PERSON": (person, "pii"), "EMAIL": (email, "pii"), "PHONE": (phone, "pii"),
    "CREDIT_CARD": (credit_card, "pii"), "IBAN": (iban, "pii"), "US_SSN": (us_ssn, "pii"),
    "IP_ADDRESS": (ipv4_public, "pii"), "PRIVATE_IP": (ipv4_private, "infra"), "MAC_ADDRESS": (mac, "infra"),
    "NL_BSN": (nl_bsn, "pii"), "IN_AADHAAR": (aadhaar, "pii"), "BR_CPF": (br_cpf, "pii"), "ES_DNI": (es_dni, "pii"),
    "ADDRESS": (address, "pii"), "ADDRESS_DE": (address_de, "pii"), "DATE_OF_BIRTH": (dob, "pii"),
    "AWS_ACCESS_KEY": (aws_access_key, "secret"), "AWS_SECRET_KEY": (aws_secret_key, "secret"),
    "GITHUB_TOKEN": (github_token, "secret"), "GITLAB_TOKEN": (gitlab_token, "secret"),
    "SLACK_TOKEN": (slack_token, "secret"), "STRIPE_KEY": (stripe_key, "secret"), "JWT": (jwt, "secret"),
    "PASSWORD": (password, "secret"), "API_KEY": (api_key, "secret"), "SENDGRID_API_KEY": (sendgrid_key, "secret"),
    "NPM_TOKEN": (npm_token, "secret"), "PRIVATE_KEY": (private_key, "secret"),
    "INTERNAL_HOSTNAME": (internal_host, "infra"), "AWS_ARN": (aws_arn, "infra"),
    "SYSLOG_HOST": (syslog_host, "infra"), "LOGIN": (login, "pii"),
}
