"""Names that context gives away, in many languages: after "my name is" and its kin, in a name
field, after a greeting or a title, as the speaker of a dialogue turn, and as a given name followed
by a family name that both appear on the name list (``veil.detectors.names``); and social-media
handles ("@ana_b"), which name a person as surely.

A NER model trained on English news misses a lone "Dragana" after "my name is", a speaker in a
chat transcript and many names outside Latin-1; these cues do not depend on the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from veil.detectors import prefilter
from veil.detectors.name_evidence import ABBREVIATED_TITLES, NOT_NAMES, PARTICLE, PARTICLES, RANKS
from veil.detectors.names import is_country, is_family_name, is_given_name, is_name
from veil.detectors.protocol import Reading
from veil.schemas import Category, Finding, trusted

_UPPER = "[" + "".join(re.escape(chr(c)) for c in range(0x250) if chr(c).isupper()) + "\u0370-\u03ff\u0400-\u042f]"
_CAP = rf"{_UPPER}[^\W\d_]+(?:['’-][^\W\d_]+)*"  # a capitalised word (Latin, Greek, Cyrillic)
_NAME = rf"{_CAP}(?:[ \t](?:{PARTICLE}[ \t])?{_CAP}){{0,3}}"
#: Phrases after which a name follows, in the languages of the name list's commonest locales.
_INTRO = (r"my name is|my name's|name is|i am called|i'm called|call me|this is|i am|i'm|it's"
          r"|me llamo|mi nombre es|soy|je m'appelle|je suis|mon nom est|ich heiße|ich heisse|mein name ist|ich bin"
          r"|mi chiamo|sono|il mio nome è|meu nome é|chamo-me|eu sou|ik heet|mijn naam is|ik ben|jag heter|mitt namn är"
          r"|jeg hedder|jeg heter|nazywam się|jmenuji se|a nevem|nimeni on|minun nimeni on|zovem se|numele meu este")
_FIELD = (r"name|full name|first name|last name|surname|given name|family name|patient|customer|client|contact"
          r"|attn|attention|signed|signed by|nombre|apellidos?|nom|prénom|vorname|nachname|nome|cognome|sobrenome|naam"
          r"|achternaam|voornaam|namn|efternamn|imię|nazwisko|jméno|příjmení"
          # people by their role in a record: "Doctor: ...", "Remitido por: ...", "Agent: ..."
          r"|doctor|physician|nurse|author|referred by|reported by|submitted by|assigned to|agent|representative"
          r"|médico|médica|doctora|enfermera|enfermero|paciente|remitido por|remitida por|referido por"
          r"|responsable clínico|responsable|firmado|autor|médecin|patient\(e\)|arzt|ärztin|medico|titular"
          r"|beneficiario|solicitante|interesado|interesada|demandante|demandado|acusado|testigo")
_GREETING = (r"dear|hi|hello|hey|thanks|thank you|regards|best|cheers|sincerely|hola|estimado|estimada|querido"
             r"|querida|bonjour|cher|chère|merci|hallo|liebe|lieber|grüße|ciao|gentile|caro|cara|olá|prezado"
             r"|prezada|beste|hej|witam|dzień dobry|ahoj|szia|tere|hei|pozdrav|salut")
_CUED = re.compile(rf"(?i:\b(?P<cue>{_INTRO}|{_FIELD}|{_GREETING}))(?P<sep>[ \t]*[:,?\-]|[ \t]*\n)?[ \t]*"
                   rf"(?:(?:{ABBREVIATED_TITLES})\.?[ \t]+)?(?P<name>{_NAME})")
#: Where a cue starts, found in one linear pass (RE2 where installed): ``_CUED``'s alternation of
#: ~150 cue words tried at every position was 60% of this detector's time on documents.
_CUE_AT = prefilter.compile_fast(rf"(?i)\b(?:{_INTRO}|{_FIELD}|{_GREETING})")
_TITLED = re.compile(rf"(?<![\w.])(?P<cue>{ABBREVIATED_TITLES})\.?[ \t]+(?P<name>{_NAME})")
_RANKED = re.compile(rf"(?<![\w.])(?P<cue>{RANKS})[ \t]+(?P<name>{_NAME})")
#: An author list before a year, as scholarly text cites: "(Hein, Reich, & Grigorenko, 2016)",
#: "Makel et al., 2012", "Heidenreich & Turano 2011", "Smith and Jones (2010)".
_AUTHOR = rf"(?:(?:{PARTICLE})[ \t]+)?{_CAP}"
_CITATION = re.compile(
    rf"(?P<authors>{_AUTHOR}(?:,[ \t]+{_AUTHOR})*(?:,?[ \t]+(?P<amp>&|and|y|und|et)[ \t]+{_AUTHOR})?)"
    rf"(?P<etal>[ \t]+et[ \t]+al\.?)?(?P<year>,?[ \t]+(?:19|20)\d\d[a-z]?\b|[ \t]*\((?:19|20)\d\d[a-z]?\))?")
#: Parties of a case: "Lynch v. Overholser", "Green versus United States".
_CASE = re.compile(rf"(?P<a>{_NAME})[ \t]+(?:v\.?|versus)[ \t]+(?:the[ \t]+)?(?P<b>{_NAME})")  # sport writes "vs"
_CASE_WORDS = frozenset({"case", "affaire", "matter", "re", "ex", "parte"})
#: Words of a party, an author or a ranked title that name a body, a place or a time, not a person.
_NOT_PERSONAL = frozenset({
    "united", "states", "state", "people", "commonwealth", "republic", "kingdom", "government", "secretary", "ministry",
    "minister", "commission", "commissioner", "board", "city", "county", "council", "department", "crown", "regina",
    "rex", "inc", "ltd", "corp", "co", "llc", "plc", "gmbh", "company", "bank", "authority", "university", "union",
    "association", "attorney", "general", "office", "service", "agency", "federal", "national", "institute", "centre",
    "center", "organization", "organisation", "society", "group", "foundation", "court", "table", "figure", "chapter",
    "section", "article", "appendix", "report", "survey", "census", "act", "island", "islands", "england", "america",
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "spring", "summer",
    "autumn", "fall", "winter", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "see", "cf", "in", "on", "at", "by", "for", "from", "of", "since", "until", "after", "before",
    "during", "between", "as", "also", "but", "while", "with", "to", "into", "year", "years", "version", "edition",
    "volume", "vol", "issue", "no", "page", "tour", "match", "cup", "windows", "covid", "season", "class", "fiscal", "quarter", "day", "week"})
_SPEAKER = re.compile(rf"(?m)^[ \t]*(?P<name>{_NAME})[ \t]*:[ \t]+\S")
_PAIR = re.compile(rf"(?<![\w-])(?P<name>{_CAP}(?:[ \t]+(?:{PARTICLE}[ \t]+)?{_CAP}){{1,2}})(?![\w-])")
_INTRO_WORDS = frozenset(re.sub(r"\\", "", _INTRO).split("|"))
_FIELD_WORDS = frozenset(re.sub(r"\\", "", _FIELD).split("|"))
#: A social-media handle: "@" at the start of a word (an e-mail address has a word before it).
_HANDLE = re.compile(r"(?<![\w.@/+-])@[A-Za-z0-9_]{2,30}(?![\w@])")
_CUE_SCORE, _SPEAKER_SCORE, _PAIR_SCORE, _HANDLE_SCORE, _CITED_SCORE, _RANK_SCORE = 0.9, 0.8, 0.85, 0.85, 0.8, 0.7




def _cued(text: str) -> Iterator[re.Match]:
    """``_CUED.finditer(text)``, tried only where ``_CUE_AT`` finds a cue (every match starts with one)."""
    end = 0
    for c in _CUE_AT.finditer(text):
        if c.start() >= end and (m := _CUED.match(text, c.start())):
            end = m.end()
            yield m


def _named(words: list[str]) -> int:
    """How many of ``words``, from the first, read as a name: a known given or family name, or a
    capitalised word right after one."""
    n = 0
    for i, w in enumerate(words):
        if is_name(w) or (i > 0 and n == i and w[:1].isupper() and len(w) > 1):
            n += 1
        elif i > 0 and n == i and w in PARTICLES and i + 1 < len(words):
            n += 1  # "de" in "Miján de la Torre": kept only when a capitalised word follows (trimmed below)
        else:
            break
    while n and words[n - 1] in PARTICLES:
        n -= 1
    return n if n and any(is_name(w) for w in words[:n]) else 0


def _capitalised(words: list[str]) -> int:
    """How many of ``words``, from the first, are capitalised or particles between capitalised words."""
    n = 0
    for w in words:
        if w[:1].isupper() or (n and w in PARTICLES):
            n += 1
        else:
            break
    while n and words[n - 1] in PARTICLES:
        n -= 1
    return n


#: Street types that are also family names: "Baker Street", "Abbey Road" name no one.
_STREET_WORDS = frozenset({"street", "road", "lane", "avenue", "drive", "court", "way", "place", "terrace", "square",
                           "hill", "park", "gardens", "close", "crescent", "row", "walk", "grove", "green", "field"})
#: Words that open a sentence, never a name: a speaker's "Sure, ..." after "Customer:".
_FUNCTION_WORDS = frozenset({
    "and", "but", "or", "so", "sure", "yes", "no", "not", "the", "a", "an", "i", "we", "you", "he", "she", "it", "they",
    "this", "that", "these", "there", "here", "what", "when", "where", "why", "how", "who", "which", "ok", "okay",
    "well", "please", "sorry", "thanks", "thank", "hello", "hi", "hey", "good", "great", "fine", "just", "can",
    "could", "would", "will", "is", "are", "was", "do", "does", "did", "my", "your", "our", "his", "her", "their",
    "el", "la", "los", "las", "un", "una", "y", "pero", "sí", "si", "hola", "gracias", "le", "les", "et", "mais",
    "oui", "non", "merci", "der", "die", "das", "und", "aber", "ja", "nein", "danke", "il", "lo", "gli", "e", "ma",
    "grazie", "o", "os", "as", "um", "uma", "mas", "sim", "não", "obrigado", "obrigada"})


def _ends_value(text: str, at: int) -> bool:
    """Whether a field's value ends at ``at``: a line end, a full stop, a separator, or a wide gap."""
    rest = text[at:at + 3]
    return not rest or rest[0] in "\n.;|\t(" or rest.startswith(("  ", " -", " –", ",\n", " (", " .", " ,")) \
        or rest.strip() == ""


def _starts_field(text: str, at: int) -> bool:
    """Whether a field's label starts at ``at``: at the start of a line or after a separator
    ("Patient: ..." is a field, "Informe clínico del paciente: Varón de 67 años" is prose)."""
    i = at - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i < 0 or text[i] in "\n|;,.•*-–>\"'("


#: The unions the rank, case and citation checks use, built once (not per match).
_NOT_RANKED, _NOT_IN_RANKED = NOT_NAMES | _FUNCTION_WORDS, _NOT_PERSONAL | _STREET_WORDS
_BEFORE_PARTY = _NOT_PERSONAL | _FUNCTION_WORDS | _CASE_WORDS
_NOT_AUTHORS = _NOT_PERSONAL | NOT_NAMES | _FUNCTION_WORDS


class PeopleDetector:
    """Names given away by their context or by the name list; see the module's docstring."""

    name = "names"
    entities = frozenset({"PERSON", "USERNAME"})
    #: Log lines are left to NER's windows: their "name:" fields name processes and services, and
    #: the three passes here would halve the detectors' throughput on them.
    reading = Reading(batch=True, documents_only=True)
    screen = ()

    def detect(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        for m in _cued(text):
            cue = m.group("cue").lower()
            words = m.group("name").split()
            # After "I am", "this is" or a greeting a name must be on the list ("I am Happy", "Hi
            # Team"); in a name field ("Surname: Lindqvist") a capitalised first word is enough.
            field = cue in _FIELD_WORDS and ":" in (m.group("sep") or "") and _starts_field(text, m.start("cue"))
            n = _named(words)
            if field and not n and words[0].lower() not in NOT_NAMES and words[0].lower() not in _FUNCTION_WORDS:
                # no listed name: the capitalised words must be the whole value of the field
                # ("Surname: Lindqvist", not "Customer: Sure, it's ...")
                k, at = _capitalised(words), m.start("name")
                ends = [at := text.index(w, at) + len(w) for w in words[:k]]
                if k > 1 and text.startswith(":", ends[k - 1]):
                    n = k - 1  # the last word labels the next field: "Médico: Parham Khosravi Shahi NºCol: 28 ..."
                elif k and _ends_value(text, ends[k - 1]):
                    n = k
            elif field and n:
                n = max(n, _capitalised(words))
            if n:
                self._add(out, text, m.start("name"), words[:n], _CUE_SCORE, f"name after '{cue}'")
        for m in _TITLED.finditer(text):
            words = m.group("name").split()
            # one letter alone ("D. Juan", "M. Dupont") is a title only before a known name
            if words[0].lower() in NOT_NAMES:
                continue  # "Mr. President", "Madam Chair"
            if (len(m.group("cue")) > 1 or _named(words)) and (n := max(_named(words), _capitalised(words))):
                self._add(out, text, m.start("name"), words[:n], _CUE_SCORE, "name after a title")
        for m in _RANKED.finditer(text):
            words = m.group("name").split()
            if words[0].lower() in _NOT_RANKED or any(w.lower() in _NOT_IN_RANKED for w in words):
                continue  # "Lord Chancellor", "Judge Advocate General", "King Street"
            n = _named(words) or 1
            # below a NER name of several words: "Lady Gaga" is one name, not "Gaga" after a rank
            self._add(out, text, m.start("name"), words[:n], _RANK_SCORE, "name after a rank or office")
        for m in _CITATION.finditer(text):
            if m.group("etal") or m.group("year"):
                self._cited(out, text, m)
        for m in _CASE.finditer(text):
            for side in ("a", "b"):
                words = m.group(side).split()
                while words and words[0].lower() in _BEFORE_PARTY:
                    words.pop(0)  # "In Lynch v. ...", "CASE OF KOWALCZYK v. POLAND"
                if words and any(is_name(w) for w in words) and not any(w.lower() in _NOT_PERSONAL for w in words) \
                        and not is_country(" ".join(words)):
                    at = m.start(side) + m.group(side).index(words[0])
                    self._add(out, text, at, words, _CUE_SCORE, "party of a case")
        for m in _SPEAKER.finditer(text):
            words = m.group("name").split()
            if is_given_name(words[0]) and (n := _named(words)):
                self._add(out, text, m.start("name"), words[:n], _SPEAKER_SCORE, "speaker of a dialogue turn")
        for m in _PAIR.finditer(text):
            words = m.group("name").split()
            if is_given_name(words[0]) and is_family_name(words[-1]) and not words[-1].isupper() \
                    and words[-1].lower() not in _STREET_WORDS:
                self._add(out, text, m.start("name"), words, _PAIR_SCORE, "known given and family name")
        if "@" in text:
            out += [trusted(Finding, start=m.start(), end=m.end(), entity="USERNAME", category=Category.PII,
                            detector=self.name, score=_HANDLE_SCORE, reason="a social-media handle")
                    for m in _HANDLE.finditer(text)]
        return out

    def _cited(self, out: list[Finding], text: str, m: re.Match) -> None:
        """The authors of one citation: several authors before a year, the first before "et al.",
        or one author alone before a year inside a parenthesis ("(Nedwick, 2014)", "Spang (1983)")."""
        authors = re.split(r",?[ \t]+(?:&|and|y|und|et)[ \t]+|,[ \t]+", m.group("authors"))
        before = text[max(0, m.start() - 80):m.start()]
        inside = before.rfind("(") > before.rfind(")")
        narrative = (m.group("year") or "").strip().startswith("(")  # "Smith and Jones (2010)"
        if m.group("amp") in ("and", "y", "und", "et") and not (narrative or inside):
            return  # "Paris, London and Berlin, 2016" is no citation
        if len(authors) == 1 and not m.group("etal"):
            # one author alone: only as a citation in brackets, "(Nedwick, 2014)", "(e.g., Nedwick,
            # 2014)", "...; Milekic 2010)" (a title before a year in brackets is a film or a book)
            if not (before.rstrip(" \t").endswith(";") or (inside and before.rstrip(" \t").endswith(("(", ",")))):
                return
            prev = re.search(r"(\w+)\W*$", before)
            if prev and prev.group(1).lower() in _NOT_PERSONAL:
                return  # "(held in Paris, 2014)"
        if narrative and not m.group("etal") and not all(is_name(a.split()[-1]) for a in authors if a):
            return  # "Language: Its Nature, Development and Origin (1922)" is a title
        for author in authors:
            words = author.split()
            if not words or any(w.lower() in _NOT_AUTHORS for w in words) \
                    or words[-1].isupper():
                return  # "(Summer, 2019)", "(WHO, 2020)", "In 2019": not a list of authors
        at = m.start()
        for author in authors:
            at = text.index(author, at)
            self._add(out, text, at, author.split(), _CITED_SCORE, "author of a citation")
            at += len(author)

    def detect_many(self, texts: Sequence[str], constants: object = None, documents: object = None) -> list[list[Finding]]:
        return [self.detect(t) for t in texts]

    def _add(self, out: list[Finding], text: str, start: int, words: list[str], score: float, reason: str) -> None:
        end = start
        for w in words:
            end = text.index(w, end) + len(w)
        out.append(trusted(Finding, start=start, end=end, entity="PERSON", category=Category.PII, detector=self.name,
                           score=score, reason=reason))


__all__ = ["PeopleDetector"]
