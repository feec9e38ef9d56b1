"""What a detector is, and what it declares: the entity types it reports, the screen that says
which texts it needs to read, and how it reads a batch. The scanner and the policy read these
declarations; none of them probes a detector for what it can do."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from veil.schemas import Finding

#: The parts of a log line its template holds constant, or a callable that works them out.
ConstantParts = Sequence[tuple[int, int]] | Callable[[], Sequence[tuple[int, int]] | None]


@dataclass(frozen=True, slots=True)
class Reading:
    """How a detector reads the texts of a batch, declared by the detector (the scanner never probes)."""

    #: it has ``detect_many`` and reads the texts of a batch together (NER: one model batch)
    batch: bool = False
    #: a document reaches it whole, whatever its screen says (names in prose need no cue)
    documents: bool = False
    #: it reads documents only (log lines never reach it)
    documents_only: bool = False
    #: it is given each log line's constant parts, the same in every line of its template
    templates: bool = False


#: the reading of a detector that takes one text at a time
ONE_AT_A_TIME = Reading()


class Detector(Protocol):
    """Finds sensitive spans in a text. Besides ``detect``, a detector declares what it can report
    and how it reads; the scanner and the policy read these declarations."""

    @property
    def name(self) -> str:
        """Names the detector in findings and the audit trail."""
        ...

    @property
    def entities(self) -> frozenset[str]:
        """The entity types its findings can have (a policy may name them)."""
        ...

    @property
    def screen(self) -> Sequence[str]:
        """Cheap necessary conditions: patterns (RE2 syntax once lookarounds are dropped) of which
        one matches every text it finds something in; empty when it reads every text."""
        ...

    @property
    def reading(self) -> Reading: ...

    def detect(self, text: str) -> list[Finding]:
        """Return findings with offsets into ``text``."""
        ...


class Screened(Detector, Protocol):
    """A detector with a ``screen``: the scanner runs it only on texts the screen matches."""

    def detect_screened(self, text: str, hits: Sequence[int]) -> list[Finding]:
        """``detect`` for a text in which the ``screen`` patterns at indices ``hits`` matched."""
        ...


class BatchDetector(Detector, Protocol):
    """A detector that reads many texts at once (``reading.batch``)."""

    def detect_many(self, texts: list[str], constants: Sequence[ConstantParts | None] | None = None,
                    documents: Sequence[bool] | None = None) -> list[list[Finding]]:
        """Findings per text; ``constants`` (``reading.templates``) and ``documents``
        (``reading.documents``) are given only to a detector that declares it reads them."""
        ...


__all__ = ["ONE_AT_A_TIME", "BatchDetector", "ConstantParts", "Detector", "Reading", "Screened"]
