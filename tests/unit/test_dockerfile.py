"""The Dockerfile, read as Docker reads it: stages, what the runtime stage installs, who owns what.
(The image is built and run by the docker-marked compose test where an engine exists.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPILERS = ("build-essential", "gcc", "g++", "cmake", "clang", "make ", "git")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^\s*(\w+)\s+(.*)$", joined, re.M)]


def stages(text: str) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for op, args in instructions(text):
        if op == "FROM":
            out.append([])
        out[-1].append((op, args))
    return out


@pytest.fixture(scope="module")
def runtime() -> list[tuple[str, str]]:
    return stages((ROOT / "Dockerfile").read_text())[-1]


def test_the_image_is_built_in_two_stages_and_the_runtime_holds_no_compiler(runtime):
    all_stages = stages((ROOT / "Dockerfile").read_text())
    assert len(all_stages) >= 2
    assert any(c in args for op, args in all_stages[0] if op == "RUN" for c in COMPILERS)  # the builder has them
    for op, args in runtime:
        if op == "RUN":
            installed = " ".join(re.findall(r"apt-get install ([^&;]*)", args)) + " "
            assert not [c for c in COMPILERS if c in installed], args
        assert not (op == "COPY" and "--from" not in args), f"the runtime copies sources: {args}"


def test_the_runtime_user_owns_the_folders_compose_mounts_for_it(runtime):
    user = next(args for op, args in reversed(runtime) if op == "USER")
    assert user not in ("root", "0")
    runs = " ".join(args for op, args in runtime if op == "RUN")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    targets = set()
    for svc in compose["services"].values():
        if svc.get("image", "").startswith("veil:"):
            targets |= {v.split(":")[1] for v in svc.get("volumes", []) if not v.split(":")[0].startswith(("certs", "."))}
    assert targets >= {"/models", "/state"}, targets
    for path in targets:
        assert re.search(rf"mkdir -p [^&]*{re.escape(path)}\b", runs), f"{path} is not created"
        assert re.search(rf"chown {user}:\S+ [^&]*{re.escape(path)}\b", runs), f"{path} is not the {user} user's"
    volumes = " ".join(args for op, args in runtime if op == "VOLUME")
    assert all(f'"{p}"' in volumes for p in targets)


def test_the_parser_sees_a_compiler_in_a_single_stage_file():
    single = "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y build-essential cmake \\\n  git\nUSER veil\n"
    (stage,) = stages(single)
    runs = [args for op, args in stage if op == "RUN"]
    assert "build-essential" in runs[0] and "git" in runs[0]
