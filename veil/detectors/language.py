"""A cheap guess at a text's language from its commonest short words.

A NER model reads its own language well and others badly: the English model run over a Spanish
clinical case tags a name in every other capitalised medical term. This guess lets a detector read
a document whole only in the language it was trained on. It counts function words (articles,
pronouns, prepositions, conjunctions), which are frequent in any running text and differ between
languages; it needs a few of them, so a short post or a log line is "unknown".
"""

from __future__ import annotations

import re

#: A few dozen of the most frequent words of each language, lower case. Words two languages share
#: ("a", "de", "in", "la", "die") are kept: each counts for every language that has it.
_FUNCTION_WORDS: dict[str, frozenset[str]] = {lang: frozenset(words.split()) for lang, words in {
    "en": "the and of to in is was that it for on with as are be this by at from or have not but they his her "
          "which an were been has had their you would there what will we my your she he our who them",
    "es": "el la los las de del y que en un una por con para es se no al lo como más su sus pero le ha fue "
          "son está este esta entre sin sobre también muy",
    "pt": "o a os as de do da dos das e que em um uma para com não por mais ao se na no é foi são como seu "
          "sua pelo pela mas também",
    "fr": "le la les de des du et est que en un une pour dans qui pas sur au avec ce il elle ne se plus par "
          "sont été cette mais aux nous vous",
    "de": "der die das und ist in den von zu mit sich des auf für nicht ein eine dem als auch es an wird "
          "aus er sie nach bei oder wurde sind noch wie",
    "it": "il la di che e è per un una in del della non con si le dei gli da al sono nel alla come anche "
          "più ma ha questo",
    "nl": "de het een en van in is dat op te zijn met voor niet aan er die door ook als bij maar om wordt "
          "naar uit dan",
    "sv": "och i att det som en på är av för med till den har inte om ett var jag men så de från vid",
    "pl": "i w na z się nie do że to jest o jak po co ale przez dla od tak jego są być",
    "cs": "a v se na je že to s z do o k ve jako by pro ale jsou jeho od po jak",
}.items()}
#: Each function word and the languages that have it.
_LANGUAGES_OF: dict[str, tuple[str, ...]] = {
    word: tuple(lang for lang, words in _FUNCTION_WORDS.items() if word in words)
    for word in set().union(*_FUNCTION_WORDS.values())}
_WORD = re.compile(r"[^\W\d_]+")
MIN_HITS = 4  # function words needed before the guess says anything


def guess(text: str, *, sample: int = 3000) -> str | None:
    """The language whose function words are most frequent in the first ``sample`` characters,
    or None when too few of them occur to tell (a short post, a log line, a list of names)."""
    counts = dict.fromkeys(_FUNCTION_WORDS, 0)
    for word in _WORD.findall(text[:sample].lower()):
        for lang in _LANGUAGES_OF.get(word, ()):
            counts[lang] += 1
    best = max(counts, key=counts.__getitem__)
    if counts[best] < MIN_HITS:
        return None
    return best


__all__ = ["guess"]
