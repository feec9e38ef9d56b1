"""What the training loop must never learn from.

The labelled evaluation set (``veil.evaluation.dataset``) measures the models; training on it would
make every later score meaningless. Its record ids all start with ``eval-``, and its values are
recognised by their exact text as well, so a replayed copy with a new id is caught too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache

from veil.evaluation import dataset

EVAL_ID_PREFIX = "eval-"


@cache
def _evaluation_texts() -> frozenset[str]:
    return frozenset(r.text for r in dataset.build())


def is_evaluation_record(record_id: str, text: str) -> bool:
    return record_id.startswith(EVAL_ID_PREFIX) or text in _evaluation_texts()


def without_evaluation(records: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Drop ``(id, text)`` pairs that belong to the evaluation set."""
    return ((rid, text) for rid, text in records if not is_evaluation_record(rid, text))
