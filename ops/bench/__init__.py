"""Benchmark scripts (run with ``python -m veil.ops.bench.NAME``); not part of the test suite."""

from __future__ import annotations

from pathlib import Path

import orjson


def write_figures(path: str | None, figures: dict) -> None:
    """Write a benchmark's figures as indented JSON when ``--json PATH`` was given."""
    if path:
        Path(path).write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))
