"""Evidence that a span names a person, in one place: word lists (titles, ranks, particles, words
that name no one, things, institutions) and small named predicates over them. The detectors
(``ner``, ``people``), the policy and the analyst's plausibility check ask these; none keeps a list
of its own.

``veil.detectors.names`` is the list of given and family names these predicates consult.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from veil.detectors.names import is_name
from veil.schemas import Category, Finding, trusted

#: Particles inside a full name: "Alberto Miján de la Torre", "Ludwig van Beethoven", "Puig i Cadafalch".
PARTICLE = r"(?:de|del|de la|de las|de los|van|von|van der|van den|der|den|da|das|do|dos|di|du|della|le|la|y|i|e|bin|ibn|al)"
PARTICLES = frozenset(w for p in re.sub(r"[()?:]", "", PARTICLE).split("|") for w in p.split())
#: Abbreviated titles and forms of address after which a capitalised word is a name ("Dra. Alfageme",
#: "Herr Müller"), as cue patterns write them (a dot may follow).
ABBREVIATED_TITLES = (r"Dr|Dra|Drs|Prof|Profa|Sr|Sra|Srta|Mr|Mrs|Ms|Mx|Mme|Mlle|M|Herr|Frau|Dott|Dott\.ssa|Ing|Lic|Sig"
                      r"|Sig\.ra|Dña|Dª|D|DR|DRA|PROF|MR|MRS|MS")
#: Ranks and offices written before a name ("Lord Diplock", "Justice Kennedy", "Tsar Aleksei").
RANKS = (r"Lord|Lady|Sir|Dame|Baron|Baroness|Duke|Duchess|Tsar|Czar|Emperor|Empress|Justice|Judge|Senator|Sen\."
         r"|Governor|Gov\.|President|Rabbi|Imam|Pastor|Reverend|Rev\.|Inspector|Detective|Sheriff")

#: Single words taken for a person that name no one: family words, interjections, deities, and the
#: roles and forms of address that stand where a name could ("Mr. President", "Madam Chair").
NOT_NAMES = frozenset({
    "mom", "mum", "mommy", "mummy", "mama", "dad", "daddy", "papa", "grandma", "grandpa", "granny", "nana", "nonna",
    "nonno", "baby", "sir", "madam", "maam", "god", "lord", "allah", "pope", "president", "senator", "judge", "doctor",
    "professor", "king", "queen", "hmm", "hmmm", "mm", "hm", "uh", "um", "ah", "oh", "nah", "ya", "yeah", "yep", "wow",
    "lol", "omg", "lmao", "haha", "ok", "okay", "hey", "hi", "hello", "thanks", "glad", "yes", "no", "bye", "cheers",
    "chair", "chairman", "chairwoman", "chairperson", "speaker", "justice", "chief", "secretary", "minister", "governor",
    "mayor", "director", "manager", "ambassador", "administrator", "commissioner", "officer", "captain", "general",
    "colonel", "sergeant", "lieutenant", "agent", "lady", "member", "representative", "delegate", "counsel",
    "premier", "chancellor", "prince", "princess", "bishop", "father", "brother", "sister", "santa", "team",
    "paciente", "varón", "varon", "mujer", "hombre", "niño", "niña", "señor", "señora", "monsieur", "madame",
    "patient", "customer", "client", "user", "admin", "image", "edit", "photo", "source", "presented"})

#: Words of an institution's name: a court, a ministry or a government names no private person.
_INSTITUTION = re.compile(
    r"(?i)\b(?:court|tribunal|chamber|section|commission|committee|council|government|ministry|minister|department"
    r"|parliament|congress|senate|assembly|police|army|navy|agency|authority|office|bureau|republic|kingdom|state"
    r"|states|union|nations|convention|registry|prosecutor|prosecution|supreme|constitutional|federal|national"
    r"|municipal|county|city|university|hospital|school|church|bank|party|juzgado|audiencia|ministerio"
    r"|gobierno|consejo|cour|conseil|gouvernement|gericht|ministerium|regierung|corte|governo|ministero|rechtbank"
    r"|hof|ministerie|regering|sąd|ministerstwo|soud|ministerstvo)\b")


def is_institution(value: str) -> bool:
    """Whether ``value`` names an institution (a court, a ministry, a university)."""
    return _INSTITUTION.search(value) is not None


def reads_as_full_name(value: str) -> bool:
    """Whether an "organisation" or "place" reads as a person's name: every word capitalised and a
    known given or family name (a small NER model often calls "Ana Lindqvist" an organisation)."""
    words = value.split()  # two words at least: "Madrid" and "Florence" are family names too
    return len(words) >= 2 and all(w[:1].isupper() and is_name(w.strip(".,'’")) for w in words)


def plausible_person(words: Sequence[str]) -> bool:
    """Whether words another component typed as a person read as a name: each capitalised (or a
    particle), a given or family name among their parts, and no role word ("Mr President")."""
    return all(w[:1].isupper() or w in PARTICLES for w in words) \
        and any(is_name(part) for w in words for part in re.split(r"[-'’.,]", w) if part) \
        and not any(w.lower().strip(".,'’") in NOT_NAMES for w in words)


#: Titles, offices and forms of address before a name, taken off a PERSON span: "President Biden" names Biden;
#: the title identifies no one.
_TITLE = re.compile(
    r"(?:(?:Vice|Chief|Deputy|Prime|Lord|Lady|Attorney|Surgeon)\s+)?"
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|President|Senator|Sen|Rep|Representative|Congressman|Congresswoman"
    r"|Governor|Gov|Mayor|Judge|Justice|Minister|Secretary|Speaker|Chancellor|King|Queen|Prince|Princess|Pope"
    r"|Saint|St|Sir|Dame|Reverend|Rev|Father|Fr|Sister|Brother|Bishop|Rabbi|Imam|Captain|Capt|General|Gen|Colonel"
    r"|Col|Major|Maj|Lieutenant|Lt|Sergeant|Sgt|Officer|Detective|Agent|Coach|Uncle|Aunt|Auntie|Grandma|Grandpa"
    r"|Herr|Frau|Mme|Mlle|Monsieur|Madame|Señor|Señora|Señorita|Sr|Sra|Srta|Don|Doña|Dott|Dottssa|Avv|Ing|Signor"
    r"|Signora|Doctor|Mister|Administrator|Commissioner|Ambassador|Chairman|Chairwoman|Chair|Madam)\b\.?\s+")
#: Words that make a capitalised phrase an event, a day, a thing or a group rather than a person.
_THINGS = frozenset({
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "tonight", "tonite", "today",
    "tomorrow", "weekend", "birthday", "day", "night", "morning", "christmas", "easter", "halloween", "holiday",
    "fest", "festival", "bash", "party", "concert", "show", "tour", "live", "lyrics", "album", "single", "remix",
    "weather", "advisory", "warning", "watch", "forecast", "storm", "band", "club", "team", "fc", "quidditch",
    "observatory", "theatre", "theater", "museum", "hall", "center", "centre", "university", "college",
    "school", "church", "hospital", "street", "road", "avenue", "case", "set", "edition", "salad", "order", "sale",
    "shop", "shopping", "store", "app", "game", "games", "movie", "film", "series", "season", "episode", "trailer",
    "news", "report", "update", "awards", "award", "cup", "league", "championship", "tournament", "workout",
    "recipe", "photo", "video", "pics", "contest", "giveaway", "ticket", "tickets", "recognition", "awareness",
    "shuttle", "telescope", "station", "project", "program", "programme", "law", "theory", "plan",
    "girls", "boys", "brothers", "sisters", "kids", "fans", "crew", "gang", "trio", "duo", "quartet", "orchestra",
    "choir", "symphony", "sonata", "concerto", "mater", "trail", "falls", "river", "lake", "mountain", "island",
    "airport", "bridge", "tower", "castle", "palace", "temple", "mosque", "cathedral", "plays"})
#: Words the small model takes into a name's front: "[My Santorum]", "[From Judy]", "[Describe Einstein]".
_LEADING = re.compile(r"(?i:the|a|an|my|our|your|his|her|their|from|to|and|with|for|by|of|at|in|on|describe|explain"
                      r"|meet|ask|call|thank|thanks|congrats|congratulations|happy|welcome|via|rip|ft|feat)\s+(?=\S)")
_TITLE_BEFORE = re.compile(r"\b" + _TITLE.pattern + r"\Z")

def people_in_document(text: str, found: list[Finding], detector: str, *, score: float) -> list[Finding]:
    """A document's PERSON findings, checked against each other. A full name ("Andy Warhol")
    vouches for its family name written alone elsewhere ("Warhol said"), found by the model or not;
    a single word the model calls a person is kept only when it is a known given or family name,
    follows a title ("Mr Kovačević"), acts as a person ("Goldsmith's test") or is so vouched for
    ("Hajj", "Iodine", "Skylab" are none); a single name kept once is redacted wherever the document
    writes it."""
    vouched: set[str] = set()
    for f in found:
        if f.entity == "PERSON":
            words = text[f.start:f.end].split()
            if len(words) >= 2 and words[-1][:1].isupper() and len(words[-1]) >= 3 and words[-1].isalpha():
                vouched.add(words[-1])
    out, have, acting = [], set(), set()
    for f in found:
        value = text[f.start:f.end]
        if f.entity == "PERSON" and " " not in value and value not in vouched and not is_name(value.strip(".'’")) \
                and not _TITLE_BEFORE.search(text, max(0, f.start - 40), f.start) and not acts_as_person(text, f):
            continue
        if f.entity == "PERSON" and " " not in value and value[:1].isupper():
            acting.add(value)  # a name kept once ("Goldsmith's test") names that person wherever the document writes it
        out.append(f)
        have.add((f.start, f.end))
    for name in vouched | acting:
        out.extend(trusted(Finding, start=m.start(), end=m.end(), entity="PERSON", category=Category.PII,
                           detector=detector, score=score, reason="a name found elsewhere in the same document")
                   for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)
                   if not any(s <= m.start() < e for s, e in have))
    return out


#: What a person does in a sentence: owns ("Goldsmith's test"), speaks or acts ("Bhamre said"), is cited ("Spang (1983)").
_PERSON_AFTER = re.compile(
    r"(?:'s|’s|'|’)(?!\w)|\s+(?:said|says|told|tells|wrote|writes|argued|argues|claimed|claims|noted|notes|added|asked"
    r"|replied|stated|explained|was|is|has|had|did|does|will|would|could|became|died|recovered|reacted|starred|played"
    r"|married|returned|went|came|made|won|lost|took|gave|shared|published|thinks|thought|believed|called)\b"
    r"|\s*,?\s*\(?(?:1[5-9]|20)\d\d\b|\s+et al\b|(?:,\s*(?:&\s*)?[A-Z][\w'’-]+){1,6},?\s*\(?(?:1[5-9]|20)\d\d\b")


def acts_as_person(text: str, f: Finding) -> bool:
    """Whether a single capitalised word the model calls a person behaves as one (see
    :data:`_PERSON_AFTER`), and is neither a hashtag, an acronym nor a word also written in lower
    case in the same text ("#Concert", "GOAT", "Prototypes ... prototypes")."""
    value = text[f.start:f.end]
    if value.isupper() or text[max(0, f.start - 2):f.start].strip().endswith(("#", "@")):
        return False
    if not _PERSON_AFTER.match(text, f.end):
        return False
    return re.search(rf"(?<!\w){re.escape(value.lower())}(?!\w)", text) is None


def in_log_line(text: str, found: list[Finding], function_words: frozenset[str]) -> list[Finding]:
    """What the model finds in a log line, kept only when it is a person with a listed name among
    its words (capitalised, not in capitals, and no function word: "The" and "reason" are family
    names somewhere) or a title before it: in logs the model calls applications, states and fields organisations
    and people ("Microsoft Word[14463]", "SleepType: Normal Sleep", "Clock Mode is Low"), and an
    organisation or a place on a log line is no one's personal data."""
    return [f for f in known_people(text, found) if f.entity == "PERSON"
            and (any(log_name(w.strip(".,'’\"()"), function_words) for w in text[f.start:f.end].split())
                 or _TITLE_BEFORE.search(text, max(0, f.start - 40), f.start))]


def log_name(word: str, function_words: frozenset[str]) -> bool:
    """A listed name written as one ("Ana"; not "the", "The" or a code in capitals such as "RAS")."""
    return word[:1].isupper() and not (len(word) > 1 and word.isupper()) and word.lower() not in function_words \
        and is_name(word)


_NAME_WORD = re.compile(r"[^\W\d_][\w'’\u0300-\u036f-]*")
_TITLE_IN = re.compile(r"\b" + _TITLE.pattern)


def may_name(text: str, start: int, end: int, function_words: frozenset[str]) -> bool:
    """Whether ``in_log_line`` could keep anything the model finds in ``text[start:end]``: a word
    there is a listed name as that rule reads it, or a title stands before one. Most windows of a
    log line open on two capitalised words ("Component State Change") and name no one: they are
    not read at all."""
    for word in _NAME_WORD.findall(text, start, end):
        word = word.rstrip("'’-")
        if log_name(word, function_words) or (("-" in word or "'" in word or "’" in word)
                                               and any(log_name(p, function_words) for p in re.split(r"['’-]", word))):
            return True
    return _TITLE_IN.search(text, max(0, start - 40), end) is not None


def known_people(text: str, found: list[Finding]) -> list[Finding]:
    """In a language it was not trained on, the model calls many capitalised phrases a person
    ("Fecha de Ingreso", "Historia Actual"): there a PERSON of several words is kept only when one of
    them is a known given or family name, or a title stands before it; one in lower case is dropped,
    and words before a lower-case one are cut off ("Unterlagen an Yuki Wang" names Yuki Wang)."""
    out = []
    for f in found:
        if f.entity == "PERSON":
            value = text[f.start:f.end]
            cut = max((m.end() for m in re.finditer(r"(?<!\S)[^\W\d_A-Z][^\s]*\s+", value)
                       if m.group().strip() not in PARTICLES), default=0)
            if cut:
                f = f.model_copy(update={"start": f.start + cut})
                value = value[cut:]
            if not value[:1].isupper():
                continue
            if " " in value and not any(is_name(w.strip(".,'’\"()")) for w in value.split()) \
                    and not _TITLE_BEFORE.search(text, max(0, f.start - 40), f.start):
                continue
        out.append(f)
    return out




_EDGE = "\"'“”‘’«»()[]{}<>*~.,;:!?-–—"


def person_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The part of a PERSON entity that names someone, or None when none does. Left out: titles in
    front, quotes and brackets around, what follows a ``|`` separator. Dropped: an entity that
    cannot be a name (digits, a hashtag, a handle, a link, a word such as "Mom" or "Hmm"), and one
    in lower case unless one of its words is a known given or family name ("steve" in a post is a
    name, "potty" is not)."""
    while start < end and text[start] in _EDGE:
        start += 1
    while (m := _TITLE.match(text, start, end)) or (m := _LEADING.match(text, start, end)):
        start = m.end()
    for stop in ("|", "\n"):  # "Soulja Boy | TheDeAndreWay", "Szabó Zsófia\nCím"
        cut = text.find(stop, start, end)
        if cut >= 0:
            end = cut
    while end > start and (text[end - 1] in _EDGE or text[end - 1].isspace()):
        if text[end - 1] == "." and end - start >= 2 and text[end - 2].isupper() and (end - start == 2 or not text[end - 3].isalpha()):
            break  # an initial: "George W."
        end -= 1
    value = text[start:end]
    if len(value) < 2 or value[0] in "#@" or "http" in value.lower() or any(c.isdigit() or c in "/\\=_" for c in value):
        return None  # "Gartenstraße 54" is an address; "#winElmers", "@ana", "Localidad/ Provincia", links: no names
    words = value.split()
    if all(w.lower().strip(".'’") in NOT_NAMES for w in words):
        return None  # "Mom", "Chief Justice"
    cut = min((i for i in (value.find("@"), value.find("&")) if i >= 0), default=-1)
    if cut >= 0:  # "Lady Gaga &amp; The Muppets", "Marina @ElReyTheatre"
        return person_span(text, start, start + cut) if cut >= 2 else None
    if any(w.lower().strip(".,!?'’") in _THINGS for w in words):
        # "Marvin Gaye Day" names Marvin Gaye; "Winter Weather Advisory", "Zac Brown Band" name no one
        while words and words[-1].lower().strip(".,!?'’") in _THINGS:
            words.pop()
        if not words or len(words) == len(value.split()) or any(w.lower().strip(".,!?'’") in _THINGS for w in words) \
                or len(words) == 1:
            return None  # "Lebowski Fest", "Winter Weather Advisory"
        end = start + value.index(words[-1], len(" ".join(words[:-1]))) + len(words[-1])
        value = text[start:end]
        words = value.split()
    if len(words) > 1 and value.isupper() and not any(is_name(w.capitalize()) for w in words):
        return None  # "DING DONG DING DONG"; "RAFAEL WARNOCK" is a name
    if not any(c.isupper() for c in value) and not any(len(w) > 2 and is_name(w.strip(".'’")) for w in words):
        return None  # "steve" and "paris hilton" in a post are names; "bagay kasi na" is not
    return start, end


NOT_GIVEN_NAMES = frozenset({"customer", "patient", "user", "client", "cliente", "kunde", "herr", "frau", "mr", "mrs",
                              "ms", "dr", "dear", "hi", "hello", "the", "titular", "mme", "team", "meeting"})
