"""Given names and family names from many countries, for telling a name from a word.

The list (``data/names.json.gz``) is built from Faker's person locales by ``ops/build_names.py``;
it holds single words, case-folded. A word on it is not a name by itself ("Rose", "Grant",
"Will"): detectors use it as one piece of evidence beside the context.
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

import orjson

_FILE = Path(__file__).with_name("data") / "names.json.gz"


@cache
def _load() -> tuple[frozenset[str], frozenset[str]]:
    data = orjson.loads(gzip.decompress(_FILE.read_bytes()))
    return frozenset(data["first"]), frozenset(data["last"])


@cache
def _countries() -> frozenset[str]:
    """Country names in seven languages, case-folded, from phonenumbers' region names (computed once,
    ~0.2 s, on first use)."""
    import phonenumbers
    from phonenumbers import geocoder

    out: set[str] = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number(region)
        if example is not None:
            for lang in ("en", "es", "fr", "de", "it", "pt", "nl"):
                if name := geocoder.country_name_for_number(example, lang):
                    out.add(name.casefold())
    return frozenset(out)


def is_country(phrase: str) -> bool:
    """Whether ``phrase`` is a country's name ("Poland", "the United Kingdom", "Deutschland")."""
    phrase = phrase.casefold().strip()
    return phrase in _countries() or phrase.removeprefix("the ") in _countries()


def given_names() -> frozenset[str]:
    """The given names, case-folded (for a caller that looks up many words)."""
    return _load()[0]


def is_given_name(word: str) -> bool:
    return word.casefold() in _load()[0]


def is_family_name(word: str) -> bool:
    return word.casefold() in _load()[1]


def is_name(word: str) -> bool:
    first, last = _load()
    w = word.casefold()
    return w in first or w in last


__all__ = ["given_names", "is_country", "is_family_name", "is_given_name", "is_name"]
