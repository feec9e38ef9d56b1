"""The built-in detector set.

Scores at or above the policy's ``auto_redact_score`` (0.85 by default) mean the format, a
checksum or context is strong evidence on its own; lower scores go to the security model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from veil.detectors import addresses, infra, pii, secrets
from veil.detectors.base import PatternDetector
from veil.detectors.infra import InternalDomainDetector, IPDetector
from veil.detectors.logfields import KnownHosts, KnownHostsDetector, LogFieldsDetector
from veil.detectors.people import PeopleDetector
from veil.detectors.pii import PhoneDetector
from veil.detectors.protocol import Detector


def default_detectors(*, internal_domains: Iterable[str] = (), phone_region: str = "US",
                      remember_hosts: bool = False) -> list[Detector]:
    """The deterministic detectors every pipeline runs.

    ``remember_hosts``: also find, on later texts, the hosts a log's host field named earlier
    (:class:`KnownHostsDetector`). Off by default: a record's redactions would then depend on what
    the worker read before it, so a restarted worker or a replay could redact the same record
    differently (and audit it twice); use it for one-off batch runs over a whole archive."""
    # One table, so the RE2 prefilter sees every pattern in a single pass over the text.
    tagged = [replace(spec, group=group) for group, specs in (("pii", pii.SPECS), ("pii", addresses.SPECS),
                                                               ("secrets", secrets.SPECS), ("infra", infra.SPECS))
              for spec in specs]
    detectors: list[Detector] = [
        PatternDetector(name="patterns", specs=tagged),
        IPDetector(),
        PhoneDetector(default_region=phone_region),
        PeopleDetector(),
        fields := LogFieldsDetector(known=KnownHosts() if remember_hosts else None),
    ]
    if fields.known is not None:
        detectors.append(KnownHostsDetector(fields.known))
    domains = tuple(internal_domains)
    if domains:
        detectors.append(InternalDomainDetector(domains))
    return detectors


def entity_types() -> set[str]:
    """Every entity type the built-in detectors can report."""
    names = {s.entity for specs in (pii.SPECS, secrets.SPECS, infra.SPECS) for s in specs}
    return names | {"IP_ADDRESS", "PHONE", "PERSON", "USERNAME"} | LogFieldsDetector.entities
