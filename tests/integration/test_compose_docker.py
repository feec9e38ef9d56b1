"""docker-compose.yml through Docker Compose itself (needs a Docker engine): the file resolves with
real secrets, and `veil setup` refuses to run with .env.example's placeholders."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.docker]


def env_file(tmp_path: Path, real: bool) -> Path:
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        if real and "=change-me" in line:
            line = f"{line.split('=', 1)[0]}={secrets.token_hex(24)}"
        lines.append(line)
    path = tmp_path / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_compose_resolves_the_file_with_real_secrets(tmp_path):
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI")
    out = subprocess.run(["docker", "compose", "--env-file", str(env_file(tmp_path, real=True)), "-f",
                          str(ROOT / "docker-compose.yml"), "config", "--quiet"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    services = subprocess.run(["docker", "compose", "--env-file", str(env_file(tmp_path, real=True)), "-f",
                               str(ROOT / "docker-compose.yml"), "config", "--services"], capture_output=True,
                              text=True, timeout=120).stdout.split()
    assert "veil-worker" in services and "expose-kafka" not in services  # the expose profile is off by default
