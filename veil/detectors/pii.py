"""Personal data: contact details, payment and bank numbers, national identifiers, dates of birth, addresses."""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers

from veil.detectors import checksums as ck
from veil.detectors import prefilter
from veil.detectors import validators as v
from veil.detectors.base import PatternSpec
from veil.detectors.protocol import ONE_AT_A_TIME
from veil.schemas import Category, Finding, trusted

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
_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
           r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")

#: Labels a record-keeping identifier follows ("NHC: 7345684", "Case no. 4471/19", "Aktenzeichen 3 O 12/21"):
#: medical record, social security, insurance, case, file, account and membership numbers.
_ID_LABELS = (
    r"nhc|nass|nuss|nss|cipa|nuhsa|n[ºo°]\.? ?col(?:egiado)?\.?|colegiado|historia cl[ií]nica|n[ºo°]\.? ?historia"
    r"|episodio|mrn|medical record(?: number| no\.?)?|patient (?:id|number|no\.?)|hospital (?:number|no\.?)"
    r"|nhs (?:number|no\.?)|case (?:number|no\.?)|file (?:number|no\.?)|claim (?:number|no\.?)"
    r"|policy (?:number|no\.?)|account (?:number|no\.?)|member(?:ship)? (?:id|number|no\.?)|customer (?:id|number|no\.?)"
    r"|client (?:id|number|no\.?)|application (?:number|no\.?)|passport (?:number|no\.?)|national id(?: number)?"
    r"|id card(?: number)?|social security (?:number|no\.?)|insurance (?:number|no\.?)|aktenzeichen|az\."
    r"|versichertennummer|kundennummer|steuernummer|num[eé]ro de (?:dossier|s[eé]curit[eé] sociale|client)"
    r"|n[ºo°] (?:de )?dossier|n[uú]mero de (?:historia|expediente|afiliaci[oó]n|cliente|p[oó]liza)|expediente"
    r"|numero di (?:pratica|cartella)|n[uú]mero do processo|dossiernummer|klantnummer|personnummer|henkilötunnus"
    # court registers: "(application no. 40167/06)", "Case No. 2:19-cv-01234", "Az. 3 StR 123/20", "n° RG 21/04512"
    r"|applications? \(?nos?\.?|docket (?:number|no\.?)|geschäftszeichen|gz\.|n[ºo°]\.? ?rg|r\.?g\. ?n[ºo°]"
    r"|recurso (?:n[ºo°]\.?|n[uú]mero)|procedimiento (?:n[ºo°]\.?|n[uú]mero)|autos n[ºo°]\.?|processo n[ºo°]\.?"
    r"|ruolo n\.?|r\.g\. n\.|case no\.?|zaak(?:nummer)?|ecli")
_ID_TRIGGERS = ("nhc", "nass", "nuss", "nss", "cipa", "nuhsa", "col", "historia", "episodio", "mrn", "record", "patient",
                "hospital", "nhs", "case", "file", "claim", "policy", "account", "member", "customer", "client",
                "application", "passport", "national id", "id card", "social security", "insurance", "aktenzeichen",
                "az.", "nummer", "numéro", "numero", "número", "dossier", "expediente", "personnummer", "henkilötunnus",
                "docket", "geschäftszeichen", "gz.", " rg ", "recurso", "procedimiento", "autos", "processo", "ruolo",
                "r.g.", "zaak", "ecli")

SPECS = (
    PatternSpec("EMAIL", PII,
                r"(?<![\w.+%-])(?P<v>[A-Za-z0-9](?:[A-Za-z0-9._+-]|%(?!40))*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24})(?![\w-])",
                0.95, "e-mail address format", triggers=("@",)),
    # written URL-encoded in a query string or a path: "?to=ana.b%40example.org", "mailto%3Aana%40x.io"
    PatternSpec("EMAIL", PII,
                r"(?<![\w.+-])(?:[Mm]ailto%3[Aa])?(?P<v>[A-Za-z0-9][A-Za-z0-9._+-]*%40[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24})"
                r"(?![\w-])",
                0.9, "URL-encoded e-mail address", triggers=("%40",)),
    PatternSpec("CREDIT_CARD", PII,
                r"(?<![\d-])(?P<v>\d{4} \d{4} \d{4} \d{1,7}|\d{4}-\d{4}-\d{4}-\d{1,7}"
                r"|\d{4} \d{6} \d{4,5}|\d{4}-\d{6}-\d{4,5})(?![\d-])", 0.95,
                "card number with valid Luhn checksum", v.credit_card, gate="numeric"),
    # one run of digits is a card only after a card word (see v.credit_card): ids, epochs in
    # milliseconds and counters of 13-19 digits fill logs
    PatternSpec("CREDIT_CARD", PII, r"(?<![\d-])(?P<v>\d{13,19})(?![\d-])", 0.95,
                "card number with valid Luhn checksum", v.credit_card, triggers=v.CARD_WORDS),
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
                _checked(ck.nl_bsn, score=0.55), context=("bsn", "burgerservicenummer", "sofinummer"), context_boost=0.4,
                gate="numeric", requires_context=True),
    PatternSpec("IN_AADHAAR", PII, r"(?<![\d-])(?P<v>[2-9]\d{3} ?\d{4} ?\d{4})(?![\d-])", 0.7,
                "Aadhaar number with valid Verhoeff checksum", _checked(ck.verhoeff, score=0.7),
                context=("aadhaar", "aadhar", "uidai", "uid"), context_boost=0.25, gate="numeric", requires_context=True),
    PatternSpec("BR_CPF", PII, r"(?<![\d.-])(?P<v>\d{3}\.\d{3}\.\d{3}-\d{2})(?![\d-])", 0.9,
                "Brazilian CPF with valid check digits", _checked(ck.br_cpf, score=0.9), gate="numeric"),
    PatternSpec("CA_SIN", PII, r"(?<![\d-])(?P<v>[1-79]\d{2}[ -]\d{3}[ -]\d{3})(?![\d-])", 0.6,
                "Canadian SIN with valid Luhn checksum", _checked(ck.luhn, score=0.6),
                context=("sin", "social insurance"), context_boost=0.3, gate="numeric", requires_context=True),
    PatternSpec("DATE_OF_BIRTH", PII,
                rf"(?P<v>\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}"
                rf"|\d{{1,2}} {_MONTHS} \d{{4}}|{_MONTHS} \d{{1,2}},? \d{{4}})\b)",
                0.9, "date next to a birth keyword", _dob,
                triggers=("dob", "d.o.b", "born", "birth", "geb", "né", "née", "nacimiento", "nascita")),
    PatternSpec("POSTAL_ADDRESS", PII,
                rf"\b(?P<v>\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}{_STREET_EN}\b\.?(?:,\s*(?:Apt|Suite|Unit)\.?\s*\w+)?"
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
    PatternSpec("ID_NUMBER", PII,
                rf"(?i:\b(?:{_ID_LABELS}))\s*(?:[:#=]|\.(?!\w))?\s*(?:[A-Za-z]{{1,4}}[-/])?"
                r"(?P<v>\d{1,2}:\d{2}-[a-z]{2,3}-\d{3,6}(?:-[A-Z]{2,4})*|\d{1,3} [A-Z][A-Za-z]{1,4} \d{1,5}/\d{2,4}"
                r"|[A-Z]{2}:[A-Z]{2,6}:\d{4}:[\w.]{3,40}|\d[\d ./-]{2,22}\d|[A-Z]{1,3}-?\d{4,12}[A-Z]?)(?![\w-])",
                0.85, "an identifier after a record-keeping label", triggers=_ID_TRIGGERS),
    PatternSpec("UK_POSTCODE", PII, r"\b(?P<v>[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})\b", 0.6, "UK postcode format",
                context=("postcode", "post code", "address", "london", "uk"), context_boost=0.3, gate="alnum"),
)


_EPOCH_OR_FLAG = re.compile(r"(?<!\d)1[0-9]{9}(?!\d)|[\s.-]\d$")
_COMPACT_DATE = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)")


def _opens_with_date(raw: str) -> bool:
    """Whether a number opens with a date written YYYYMMDD (a log timestamp: "20171223-22:17:50")."""
    return _COMPACT_DATE.match(raw) is not None


def _is_ipv4(raw: str) -> bool:
    parts = raw.split(".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts)


class PhoneDetector:
    """Phone numbers: a broad candidate pattern, validated with the phonenumbers library.

    A number with its country code (``+33``, ``0033``) is checked for that country. A national
    number is checked for the default region; next to a phone word (tel, fax, mobile, Tfno,
    Telefon, ...) also for the regions of :data:`REGIONS`, so "Tel.: 967 597 100" (Spain) or
    "tél. 01 42 68 53 00" (France) are found wherever the default region is, and a bare 9-digit id
    in a log line is not."""

    name = "phone"
    entities = frozenset({"PHONE"})
    reading = ONE_AT_A_TIME
    # the lookahead: seven characters a phone number is written with, or no candidate can have seven
    # digits (83% of the digit runs of typical log lines are shorter: ports, pids, times)
    _candidate = re.compile(r"(?=[+(\d][\d\s.()+-]{6})(?:(?<![\w+])\+ ?\d{1,3}(?:[\s.-] ?)?|(?<![\w+./-])(?:00\d{1,3}[\s.-]?)?)"
                            r"(?:\(\d{1,4}\)[\s.-]?)?\d{1,15}(?:[\s.-]\d{1,8}){0,5}(?![\w-])")
    _extension = re.compile(r"[ ,]{1,2}(?:ext|Ext|EXT|extension|int|x)\.? ?\d{1,5}(?![\w-])")
    _iso_date = re.compile(r"\d{4}-\d{2}-\d{2}")
    _context = ("phone", "tel", "call", "mobile", "cell", "fax", "whatsapp", "sms", "telefon", "téléphone", "tfno",
                "teléfono", "telefono", "móvil", "movil", "celular", "portable", "handy", "cellulare", "telemóvel",
                "telefoon", "mobiel", "gsm", "natel", "puhelin", "telefonnummer", "mobil", "tlf", "phone no", "ph.", "contact",
                "☎", "📞", "✆", "telf", "citas", "appointments", "puh", "tfn", "τηλ", "тел", "telefonu",
                "telefone", "telemovel", "cellphone", "landline", "hotline", "helpline")
    _cue = re.compile(r"(?i)(?<![^\W\d_])(?:" + "|".join(re.escape(w) for w in _context) + ")")
    #: Regions a national number next to a phone word is also checked for.
    REGIONS = ("US", "GB", "ES", "FR", "DE", "IT", "PT", "NL", "BE", "CH", "AT", "IE", "SE", "NO", "DK", "FI", "PL",
               "CZ", "HU", "RO", "GR", "EE", "LV", "LT", "BR", "MX", "AR", "CO", "CL", "CA", "AU", "NZ", "IN", "ZA")

    def __init__(self, default_region: str = "US") -> None:
        self.default_region = default_region
        self._regions = (default_region, *(r for r in self.REGIONS if r != default_region))

    # What any finding needs (a cheap, RE2-run necessary condition): a phone word before digits
    # (a bare digit run counts only after one); an international prefix; an area code in brackets;
    # or groups of digits in a phone's shape that no date has ("612 345 678", "0470 12 34 56",
    # "44-12-90-73", "848 429924"; "2016-09-28" and "28.09.2016" do not open it: they were on every
    # line of real service logs). Groups joined by dots or dashes count where a number can start
    # (as the candidate pattern says: not inside "calvisitor-10-105-160-95" or "v1.2.345.67"), and
    # not as a dotted IPv4 address ("24.135.95.248") or a date with its hour ("2005-06-03-15.42").
    _not_year = r"(?:\d{3}|[013-9]\d{3}|1[0-8]\d\d|2[1-9]\d\d|\d{5,})"
    _no_fourth = r"(?:[^\d.]|\.(?:\D|$)|$)"
    _gate = prefilter.compile_fast(
        r"(?i:" + "|".join(re.escape(w) for w in _context) + r")[^\n]{0,48}?\d[\d .()/-]{6}"
        r"|\+\s?\d|\b00\d{8}|\(\d{1,4}\)\s?\d"
        r"|\d{2,} \d{3,} \d{2,}|\d{3,} \d{2,} \d{3,}|\d{2,} \d\d \d\d \d\d"
        r"|(?:^|[^\w.-])(?:\d{2,}-\d{3,}-\d{2,}|\d{3,}-\d{2,}-\d{3,}|\d-\d{3}-\d{3}-\d{4}|(?:\d\d|" + _not_year + r")-\d\d-\d\d-\d\d"
        r"|\d{2,}\.\d{3,}\.\d{2,}" + _no_fourth + r"|\d{3,}\.\d{2,}\.\d{3,}" + _no_fourth
        + r"|\d{4,}\.\d{3,}\.\d{2,}|\d{2,}\.\d{4,}\.\d{2,}|\d{2,}\.\d{3,}\.\d{4,}|\d\.\d{3}\.\d{3}\.\d{4}|"
        r"(?:0\d|" + _not_year + r")\.\d\d\.\d\d\.\d\d)"
        r"|\d\d \d\d \d{4,}|(?:^|[^\d.])\d{2,4} \d{6}(?:\D|$)")
    screen = (_gate.pattern,)

    def detect(self, text: str) -> list[Finding]:
        return self.detect_screened(text, [0]) if self._gate.search(text) else []

    def detect_screened(self, text: str, hits: Sequence[int]) -> list[Finding]:
        out: list[Finding] = []
        for m in self._candidate.finditer(text):
            raw = m.group(0)
            digits = _digits(raw)
            if not 7 <= len(digits) <= 15 or self._iso_date.match(raw) or _is_ipv4(raw):
                continue  # too short or long, an ISO date (maybe with the hour), or an IPv4 address
            if raw.count(".") == 1 and len(digits) == len(raw) - 1:
                continue  # one dot between two digit runs is a decimal number ("[812345.000123]", an epoch)
            # a phone word shortly before, or the number is the next in a list of phones ("918823884 / 619128686")
            cued = self._cue.search(text, max(0, m.start() - 40), m.start()) is not None \
                or bool(out and m.start() - out[-1].end <= 4 and text[out[-1].end:m.start()].strip(" /,;-") in ("", "or", "o", "ou", "oder", "y"))
            international = raw.startswith(("+", "00")) and len(digits) >= 10
            if not cued and (raw.isdigit() or _EPOCH_OR_FLAG.search(raw)):
                continue  # a bare digit run without a phone word is an id, a counter or a sequence number;
                # an epoch in seconds or a one-digit last group ("1131210631 1") is a log's time and flag
            if not cued and _opens_with_date(raw):
                continue  # "20171223-22:17:50": a compact date and hour, a timestamp's head
            if not international and not cued and ((raw[0] not in "(0" and len(digits) < 10) or len(digits) < 8):
                continue  # national numbers start with a trunk 0 or have 10+ digits; "200 87864" is status+size
            if not self._valid(raw, international, cued):
                continue
            score = 0.88 if international else 0.7
            if cued:
                score = min(1.0, score + 0.2)
            extension = self._extension.match(text, m.end())  # "986413144 ext 1530" is one number
            end = extension.end() if extension is not None else m.end()
            out.append(trusted(Finding, start=m.start(), end=end, entity="PHONE", category=PII, detector=self.name,
                               score=score, reason="valid phone number (phonenumbers)"))
        return out

    def _valid(self, raw: str, international: bool, cued: bool) -> bool:
        raw = raw.replace("(0)", "")  # "+33 (0)1 ...": the trunk prefix written for callers inside the country
        if international:
            number = "+" + raw.lstrip("+")[2:] if raw.lstrip("+").startswith("00") else raw
            return self._parses(number, None)
        return any(self._parses(raw, region) for region in (self._regions if cued else (self.default_region,)))

    @staticmethod
    def _parses(raw: str, region: str | None) -> bool:
        try:
            return phonenumbers.is_valid_number(phonenumbers.parse(raw, region))
        except phonenumbers.NumberParseException:
            return False
