"""Deterministic detectors: each returns findings with offsets into the original text."""

from veil.detectors.base import PatternDetector, PatternSpec, Scanner, merge_findings, scan
from veil.detectors.infra import IPDetector
from veil.detectors.patterns import default_detectors, entity_types
from veil.detectors.protocol import Detector, Screened

__all__ = ["Detector", "IPDetector", "PatternDetector", "PatternSpec", "Scanner", "Screened", "default_detectors", "entity_types",
           "merge_findings", "scan"]
