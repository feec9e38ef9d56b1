"""Build Veil's name gazetteer (``veil/detectors/data/names.json.gz``) from Faker's person locales.

Faker (MIT licence, https://github.com/joke2k/faker) ships first and last names for dozens of
countries. This keeps their single words, case-folded, and records the Faker version and the
locales read, so the file can be rebuilt exactly:

    .venv/bin/pip install faker==40.63.0
    .venv/bin/python -m veil.ops.build_names

Faker is needed only here, never at run time.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import pkgutil
import re
from pathlib import Path

import orjson

OUT = Path(__file__).resolve().parents[1] / "veil" / "detectors" / "data" / "names.json.gz"
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
#: Particles of family names ("van der", "de la", "bin"): words in a name that name no one alone.
_PARTICLES = {"van", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "du", "la", "le", "von", "zu",
              "bin", "binti", "ibn", "al", "el", "y", "e", "af", "ter", "ten", "mac", "st"}


def _words(values) -> set[str]:
    out = set()
    for value in values:
        for word in _WORD.findall(str(value)):
            w = word.casefold()
            if len(w) >= 2 and w not in _PARTICLES:
                out.add(w)
    return out


def build() -> dict:
    import faker
    import faker.providers.person as person

    first, last, locales = set(), set(), []
    for info in sorted(pkgutil.iter_modules(person.__path__), key=lambda m: m.name):
        provider = getattr(importlib.import_module(f"faker.providers.person.{info.name}"), "Provider", None)
        if provider is None:
            continue
        locales.append(info.name)
        for attr in dir(provider):
            values = getattr(provider, attr)
            if not isinstance(values, (tuple, list, dict)):
                continue  # a property computed per instance: the plain lists hold the same names
            if attr.startswith("first_names"):
                first |= _words(values)
            elif attr.startswith("last_names"):
                last |= _words(values)
    return {"source": f"Faker {faker.VERSION} person providers (MIT licence, https://github.com/joke2k/faker)",
            "locales": locales, "first": sorted(first), "last": sorted(last)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    data = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(gzip.compress(orjson.dumps(data), mtime=0))
    print(f"{args.out}: {len(data['first'])} first and {len(data['last'])} last names from {len(data['locales'])} locales")


if __name__ == "__main__":
    main()
