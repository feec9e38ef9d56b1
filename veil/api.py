"""The Python front door: the verified pipeline ``veil redact`` runs, for one text or many.

    >>> import veil
    >>> veil.redact("login failed user=ana@example.org from 10.0.0.7 host db01.corp.internal")
    'login failed user=<EMAIL_1> from <IP_ADDRESS_1> host <INTERNAL_HOSTNAME_1>'

``redact`` uses the detectors, the policy and the operators, then checks that no detected value is
left in the output (a value the check still finds is redacted more coarsely, never passed on). It
reads the settings from the environment (``VEIL_*``) once. For many texts, or
other settings, build one :class:`Engine` and reuse it; ``Engine(llm=True)`` also asks the two
local models (the general analyst and the security judge), as ``veil redact`` does by default.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from veil.batch import BatchResult
from veil.composition import build_engine
from veil.policy import Policy
from veil.settings import Settings


class Engine:
    """A reusable redaction engine (keys, detectors, caches and models loaded once).

    Args:
        settings: Veil's settings; default: read from the environment (``Settings.load(path)`` reads a file too).
        policy: a :class:`~veil.policy.Policy` or the path of a policy YAML file; default: the settings'.
        llm: also ask the local models (their files must be on hand: ``veil models fetch``);
            without them every uncertain candidate is redacted (fail closed).
        profile: ``pii`` (direct identifiers, the default) or ``anonymize`` (also quasi-identifiers).
    """

    def __init__(self, settings: Settings | None = None, *, policy: Policy | Path | str | None = None,
                 llm: bool = False, profile: str | None = None) -> None:
        chosen = Policy.from_yaml(Path(policy)) if isinstance(policy, str | Path) else policy
        self._engine = build_engine(settings or Settings.load(), llm=llm, policy=chosen, profile=profile)
        self._count = 0

    def run(self, text: str, *, log: bool = False, source: str | None = None) -> BatchResult:
        """The whole result for one text: the redacted text, each finding (type, span, decision,
        operator; never the value) and the fallback verification used, if any. ``log``: the text
        is a log line (mined into templates, so repeated lines cost less)."""
        self._count += 1
        return self._engine.run(str(self._count), text, source, log=log)

    def redact(self, text: str, *, log: bool = False, source: str | None = None) -> str:
        """The redacted text."""
        return self.run(text, log=log, source=source).redacted_text

    def redact_many(self, texts: Iterable[str], *, log: bool = False) -> list[str]:
        """The redacted texts, in order; batch-capable detectors (NER) read them together."""
        records = [(str(self._count + i + 1), t) for i, t in enumerate(texts)]
        self._count += len(records)
        return [r.redacted_text for r in self._engine.run_many(records, logs=[log] * len(records))]


@functools.cache
def _default() -> Engine:
    return Engine()


def redact(text: str, *, log: bool = False) -> str:
    """``text`` with its personal data, secrets and internal infrastructure details replaced by
    typed placeholders, with the default :class:`Engine` (detectors only, built on first use)."""
    return _default().redact(text, log=log)


__all__ = ["Engine", "redact"]
