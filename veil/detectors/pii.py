"""Personal data: contact details, payment and bank numbers, national identifiers, dates of birth, addresses."""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers

from schemas import Category, Finding, trusted
from veil.detectors import checksums as ck
from veil.detectors import validators as v
from veil.detectors.base import GATES, PatternSpec

PII = Category.PII
_DIGITS = re.compile(r"\D")


def _digits(value: str) -> str:
    return _DIGITS.sub("", value)


def _checked(check, *, score: float, clean=_digits):
    def validate(value: str, text: str, start: int) -> float | None:
        return score if check(clean(value)) else None
    return validate


def _upper_alnum(value: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


_DOB_CONTEXT = ("dob", "d.o.b", "born", "birth", "birthday", "geb.", "geboren", "né le", "née le", "nacimiento",
                "data di nascita")


def _dob(value: str, text: str, start: int) -> float | None:
    return 0.9 if v.has_context(text, start, _DOB_CONTEXT, window=32) else None


_STREET_EN = r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Parkway|Pkwy|Square|Sq)"
_MONTHS = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"

SPECS = (
    PatternSpec("EMAIL", PII, r"(?<![\w.+-])(?P<v>[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24})(?![\w-])",
                0.95, "e-mail address format", triggers=("@",)),
    PatternSpec("CREDIT_CARD", PII,
                r"(?<![\d-])(?P<v>\d{13,19}|\d{4} \d{4} \d{4} \d{1,7}|\d{4}-\d{4}-\d{4}-\d{1,7}"
                r"|\d{4} \d{6} \d{4,5}|\d{4}-\d{6}-\d{4,5})(?![\d-])", 0.95,
                "card number with valid Luhn checksum", v.credit_card, gate="numeric"),
    PatternSpec("US_SSN", PII, r"(?<![\d-])(?P<v>\d{3}-\d{2}-\d{4})(?![\d-])", 0.7,
                "US SSN format outside invalid ranges", v.us_ssn, gate="numeric"),
    PatternSpec("IBAN", PII, r"\b(?P<v>[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)\b", 0.95,
                "IBAN with valid mod-97 checksum",
                _checked(ck.iban_mod97, score=0.95, clean=lambda s: s.replace(" ", "")), gate="alnum"),
    PatternSpec("UK_NINO", PII, r"\b(?P<v>[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])\b", 0.75,
                "UK National Insurance number format",
                _checked(ck.uk_nino_prefix_ok, score=0.75, clean=_upper_alnum),
                context=("national insurance", "nino", "ni number", "ni no"), context_boost=0.2, gate="alnum"),
    PatternSpec("DE_TAX_ID", PII, r"(?<![\d-])(?P<v>\d{2} ?\d{3} ?\d{3} ?\d{3})(?![\d-])", 0.6,
                "German tax id with valid check digit", _checked(ck.de_tax_id, score=0.6),
                context=("steuer", "tax id", "idnr", "identifikationsnummer", "tin"), context_boost=0.35, gate="numeric"),
    PatternSpec("FR_NIR", PII, r"(?<![\d])(?P<v>[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2A|2B) ?\d{3} ?\d{3} ?\d{2})(?!\d)",
                0.85, "French social security number with valid key",
                _checked(ck.fr_nir, score=0.85, clean=_upper_alnum),
                context=("sécurité sociale", "securite sociale", "nir", "insee", "social security"), context_boost=0.1, gate="numeric"),
    PatternSpec("ES_DNI", PII, r"\b(?P<v>\d{8}-?[A-Za-z])\b", 0.85, "Spanish DNI with valid check letter",
                _checked(ck.es_dni, score=0.85, clean=_upper_alnum), context=("dni", "nif"), context_boost=0.1, gate="numeric"),
    PatternSpec("ES_NIE", PII, r"\b(?P<v>[XYZxyz]-?\d{7}-?[A-Za-z])\b", 0.9, "Spanish NIE with valid check letter",
                _checked(ck.es_dni, score=0.9, clean=_upper_alnum), gate="alnum"),
    PatternSpec("IT_FISCAL_CODE", PII, r"\b(?P<v>[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z])\b", 0.95,
                "Italian fiscal code with valid check character", _checked(ck.it_fiscal_code, score=0.95, clean=str.upper), gate="alnum"),
    PatternSpec("NL_BSN", PII, r"(?<![\d.-])(?P<v>\d{4}\.?\d{2}\.?\d{3})(?![\d.-])", 0.55, "Dutch BSN passing the 11-proof",
                _checked(ck.nl_bsn, score=0.55), context=("bsn", "burgerservicenummer", "sofinummer"), context_boost=0.4, gate="numeric"),
    PatternSpec("IN_AADHAAR", PII, r"(?<![\d-])(?P<v>[2-9]\d{3} ?\d{4} ?\d{4})(?![\d-])", 0.7,
                "Aadhaar number with valid Verhoeff checksum", _checked(ck.verhoeff, score=0.7),
                context=("aadhaar", "aadhar", "uidai", "uid"), context_boost=0.25, gate="numeric"),
    PatternSpec("BR_CPF", PII, r"(?<![\d.-])(?P<v>\d{3}\.\d{3}\.\d{3}-\d{2})(?![\d-])", 0.9,
                "Brazilian CPF with valid check digits", _checked(ck.br_cpf, score=0.9), gate="numeric"),
    PatternSpec("CA_SIN", PII, r"(?<![\d-])(?P<v>[1-79]\d{2}[ -]\d{3}[ -]\d{3})(?![\d-])", 0.6,
                "Canadian SIN with valid Luhn checksum", _checked(ck.luhn, score=0.6),
                context=("sin", "social insurance"), context_boost=0.3, gate="numeric"),
    PatternSpec("DATE_OF_BIRTH", PII,
                rf"(?P<v>\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}|\d{{1,2}} {_MONTHS} \d{{4}}|{_MONTHS} \d{{1,2}},? \d{{4}})\b)",
                0.9, "date next to a birth keyword", _dob,
                triggers=("dob", "d.o.b", "born", "birth", "geb", "né", "née", "nacimiento", "nascita")),
    PatternSpec("POSTAL_ADDRESS", PII,
                rf"\b(?P<v>\d{{1,5}}\s+(?:[A-Z][a-z]+\s+){{1,3}}{_STREET_EN}\.?(?:,\s*(?:Apt|Suite|Unit)\.?\s*\w+)?"
                r"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)?(?:,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?)?)",
                0.85, "street number, name and street type",
                triggers=("street", " st", "avenue", " ave", "road", " rd", "boulevard", "blvd", "lane", " ln",
                          "drive", " dr", "court", " ct", " way", "place", " pl", "terrace", "parkway", "pkwy",
                          "square", " sq")),
    PatternSpec("POSTAL_ADDRESS", PII,
                r"(?P<v>\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)\s+\d{1,4}[a-z]?"
                r"(?:,\s*\d{5}\s+[A-ZÄÖÜ][a-zäöüß]+)?)",
                0.85, "German street name and house number",
                triggers=("straße", "strasse", "str.", "weg ", "gasse", "platz", "allee", "ring ", "damm")),
    PatternSpec("UK_POSTCODE", PII, r"\b(?P<v>[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})\b", 0.6, "UK postcode format",
                context=("postcode", "post code", "address", "london", "uk"), context_boost=0.3, gate="alnum"),
)


class PhoneDetector:
    """Phone numbers: a broad candidate pattern, validated with the phonenumbers library."""

    name = "phone"
    _candidate = re.compile(r"(?<![\w+.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{1,8}(?:[\s.-]\d{1,8}){1,5}(?![\w-])")
    _iso_date = re.compile(r"\d{4}-\d{2}-\d{2}")
    _ipv4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
    _context = ("phone", "tel", "call", "mobile", "cell", "fax", "whatsapp", "sms", "telefon", "téléphone")

    def __init__(self, default_region: str = "US") -> None:
        self.default_region = default_region

    screen = (GATES["numeric"].pattern,)

    def detect(self, text: str) -> list[Finding]:
        return self.detect_screened(text, [0]) if GATES["numeric"].search(text) else []

    def detect_screened(self, text: str, hits: Sequence[int]) -> list[Finding]:
        out: list[Finding] = []
        for m in self._candidate.finditer(text):
            raw = m.group(0)
            digits = _digits(raw)
            if not 8 <= len(digits) <= 15 or self._iso_date.match(raw) or self._ipv4.fullmatch(raw):
                continue  # too short or long, an ISO date (maybe with the hour), or an IPv4 address
            if raw[0] not in "+(" and raw[0] != "0" and len(digits) < 10:
                continue  # national numbers start with a trunk 0 or have 10+ digits; "200 87864" is status+size
            if raw.count(".") == 1 and len(digits) == len(raw) - 1:
                continue  # one dot between two digit runs is a decimal number ("[812345.000123]", an epoch)
            try:
                number = phonenumbers.parse(raw, None if raw.startswith("+") else self.default_region)
            except phonenumbers.NumberParseException:
                continue
            if not phonenumbers.is_valid_number(number):
                continue
            score = 0.88 if raw.startswith("+") else 0.7
            if v.has_context(text, m.start(), self._context, window=32):
                score = min(1.0, score + 0.2)
            out.append(trusted(Finding, start=m.start(), end=m.end(), entity="PHONE", category=PII, detector=self.name,
                               score=score, reason="valid phone number (phonenumbers)"))
        return out
