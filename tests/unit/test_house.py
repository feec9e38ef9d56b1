"""The house static tools can read: every ``veil.*`` import names a file a person, an IDE and a type
checker find under ``veil/`` (the top-level folders are reached through ``veil/<folder>`` links);
no import circle among Veil's modules, counting every import statement, lazy ones included; no
module beyond the size a newcomer can read, outside the data tables named here."""

from __future__ import annotations

import ast
import importlib
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "veil"
TOP_LEVEL = ("streams", "models", "schemas", "training", "ops")
#: Modules that are mostly data (pattern tables, word lists), allowed past the size limit.
DATA_TABLES: frozenset[str] = frozenset()
MAX_LINES = 420


def _files(top: Path) -> list[Path]:
    """Python files under ``top``, through the folder links too (``Path.rglob`` does not follow them)."""
    return sorted(Path(d) / f for d, _, files in os.walk(top, followlinks=True) for f in files if f.endswith(".py"))


def _modules() -> dict[str, Path]:
    out = {}
    for path in _files(PACKAGE):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Every ``veil.*`` module ``path`` imports, anywhere in the file (``from veil.x import y``
    counts ``veil.x.y`` when that is a module, else ``veil.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "veil"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "veil":
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names}
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_the_top_level_folders_are_reached_inside_the_package_as_relative_links():
    for folder in TOP_LEVEL:
        link = PACKAGE / folder
        assert link.is_symlink() and str(link.readlink()) == f"../{folder}", folder
        assert (link / "__init__.py").is_file()


@pytest.mark.parametrize("source", ["veil", "tests"])
def test_every_veil_import_names_a_file_in_the_tree(source):
    unresolved = [f"{path.relative_to(ROOT)}: {name}" for path in _files(ROOT / source)
                  for name in _imports(path) if name not in MODULES]
    assert not unresolved, unresolved


def _notebook_imports() -> list[tuple[str, str, list[str]]]:
    """(notebook, module, names) for every ``from veil... import ...`` in the notebooks' code cells."""
    out = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(line for line in cell["source"] if not line.lstrip().startswith(("%", "!")))
            out.extend((path.name, node.module, [a.name for a in node.names]) for node in ast.walk(ast.parse(source))
                       if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "veil")
    return out


def test_every_name_a_notebook_imports_from_veil_exists():
    """The notebooks run only with the slow tests: a name moved between modules is caught here."""
    missing = []
    for notebook, module, names in _notebook_imports():
        loaded = importlib.import_module(module)
        missing += [f"{notebook}: {module}.{n}" for n in names
                    if not hasattr(loaded, n) and f"{module}.{n}" not in MODULES]
    assert _notebook_imports() and not missing, missing


def test_no_import_circle_among_veils_modules():
    graph = {name: _imports(path) & MODULES.keys() - {name} for name, path in MODULES.items()}
    assert _cycles(graph) == []


def test_the_circle_check_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_is_longer_than_a_newcomer_can_read():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES and name not in DATA_TABLES}
    assert not long, long
