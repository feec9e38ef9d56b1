"""Veil installs as one import package, ``veil``: the folders at the top of the repository
(streams/, models/, schemas/, training/, ops/) are mapped into it when the wheel is built."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAPPED = ("streams", "models", "schemas", "training", "ops")

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True, timeout=600)
    [built] = out.glob("veil-*.whl")
    return built


def test_the_wheel_holds_veil_as_its_only_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert {t for t in top if not t.endswith((".dist-info", ".data"))} == {"veil"}, sorted(top)
    for package in MAPPED:
        assert f"veil/{package}/__init__.py" in names
    # data files travel with their packages
    assert "veil/models/catalog.yaml" in names and "veil/training/data/bootstrap.txt" in names
    assert any(n.startswith("veil/ops/resources/es/") for n in names)
    info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "veil = veil.ops.cli:main" in zipfile.ZipFile(wheel).read(info).decode()


def test_the_installed_wheel_runs_beside_an_application_with_its_own_models_and_schemas(wheel, tmp_path):
    """Installed into a folder ahead of everything else on the path, next to an application that has
    its own ``models`` and ``schemas`` packages: Veil's command runs from the wheel, and the
    application's ``import models`` still gets its own."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    assert not any((target / p).exists() for p in MAPPED)
    app = tmp_path / "app"
    for own in ("models", "schemas"):
        (app / own).mkdir(parents=True)
        (app / own / "__init__.py").write_text(f"OWNER = 'app-{own}'\n")
    probe = (
        "import models, schemas, veil.schemas, veil.ops.cli as cli\n"
        "assert models.OWNER == 'app-models' and schemas.OWNER == 'app-schemas'\n"
        f"assert cli.__file__.startswith({str(target)!r}), cli.__file__\n"
        "assert hasattr(veil.schemas, 'Finding')\n"
        "print('ok')\n"
    )
    env = {"PYTHONPATH": f"{target}:{app}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=app, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
    out = subprocess.run([sys.executable, "-m", "veil.ops.cli", "--help"], cwd=app, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "redact" in out.stdout, out.stderr[-2000:]


def test_no_module_imports_a_mapped_folder_by_its_top_level_name():
    """``from schemas import ...`` would work in a checkout and break in a wheel (or load another
    package's ``schemas``): every import goes through ``veil.``."""
    bad = re.compile(rf"^\s*(?:from|import)\s+(?:{'|'.join(MAPPED)})\b", re.M)
    offenders = [f"{p.relative_to(ROOT)}:{s[:m.start()].count(chr(10)) + 1}"
                 for folder in ("veil", *MAPPED, "tests") for p in (ROOT / folder).rglob("*.py")
                 for s in [p.read_text(encoding="utf-8")] for m in bad.finditer(s)]
    assert offenders == []
