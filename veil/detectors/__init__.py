"""Deterministic detectors: each returns findings with offsets into the original text."""

from veil.detectors.base import Detector, PatternDetector, PatternSpec, merge_findings, scan
from veil.detectors.patterns import IPDetector, default_detectors

__all__ = ["Detector", "IPDetector", "PatternDetector", "PatternSpec", "default_detectors", "merge_findings", "scan"]
