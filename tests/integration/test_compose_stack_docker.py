"""The whole compose stack on a Docker host: `docker compose up` as the README says, records produced
into Kafka over SASL_SSL, redacted documents, audit events and dead letters read back from
Elasticsearch over TLS. Needs a Docker engine with internet access (images, Ollama's model); it is
skipped where none runs (as on the development VM: see tests/unit/test_kafka_image.py, which runs
the Kafka image's own start-up scripts on this file without Docker)."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
import uuid
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.slow, pytest.mark.e2e]
PORTS = ("KIBANA_PORT", "ES_PORT", "KAFKA_PORT", "RAY_DASHBOARD_PORT", "VEIL_API_PORT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Compose:
    def __init__(self, tmp: Path) -> None:
        self.project = f"veil-e2e-{uuid.uuid4().hex[:6]}"
        self.env: dict[str, str] = {}
        lines = []
        for line in (ROOT / ".env.example").read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                value = secrets.token_hex(24) if value.startswith("change-me") else value
                value = str(free_port()) if key in PORTS else value
                self.env[key] = value
                line = f"{key}={value}"
            lines.append(line)
        self.env_file = tmp / ".env"
        self.env_file.write_text("\n".join(lines) + "\n")

    def __call__(self, *args: str, timeout: float = 600, stdin: bytes | None = None, check: bool = True):
        cmd = ["docker", "compose", "-p", self.project, "--env-file", str(self.env_file), "-f",
               str(ROOT / "docker-compose.yml"), "--profile", "expose", *args]
        out = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, cwd=ROOT)
        if check and out.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{out.stderr.decode(errors='replace')[-4000:]}")
        return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    c = Compose(tmp_path_factory.mktemp("compose"))
    try:
        up = c("up", "-d", "--build", "--wait", "--wait-timeout", "1500", timeout=2400, check=False)
        if up.returncode != 0:
            logs = c("logs", "--no-color", "--tail", "40", check=False).stdout.decode(errors="replace")
            raise AssertionError(f"compose up failed:\n{up.stderr.decode(errors='replace')[-3000:]}\n{logs[-8000:]}")
        yield c
    finally:
        c("down", "-v", "--remove-orphans", timeout=600, check=False)


def elasticsearch(c: Compose):
    from elasticsearch import Elasticsearch

    ca = c("exec", "-T", "veil-worker", "cat", "/certs/ca.crt").stdout
    path = c.env_file.parent / "ca.crt"
    path.write_bytes(ca)
    return Elasticsearch(f"https://localhost:{c.env['ES_PORT']}", ca_certs=str(path),
                         basic_auth=("elastic", c.env["ELASTIC_PASSWORD"]), request_timeout=30)


def test_records_go_through_the_compose_stack_and_come_back_redacted_from_elasticsearch(stack):
    batch = f"e2e-{uuid.uuid4().hex[:6]}"
    planted = [f"person{i}@example.org" for i in range(20)]
    records = [orjson.dumps({"id": f"{batch}-{i}", "text": f"ticket {i}: write to {mail} or call +44 20 7946 0{i:03d}",
                             "source": "crm"}) for i, mail in enumerate(planted)]
    records.append(b'{"id": "broken", "text": ')  # a dead letter
    stack("exec", "-T", "veil-worker", "veil", "produce", "/dev/stdin", "--topic", "veil.docs.in", "--batch", batch,
          stdin=b"\n".join(records) + b"\n", timeout=120)
    es = elasticsearch(stack)
    deadline, docs = time.monotonic() + 900, []
    while time.monotonic() < deadline:
        es.indices.refresh(index="veil-redacted,veil-audit,veil-deadletter")
        docs = [h["_source"] for h in es.search(index="veil-redacted", query={"term": {"batch": batch}},
                                                size=100)["hits"]["hits"]]
        if len(docs) == len(planted):
            break
        time.sleep(5)
    assert len(docs) == len(planted)
    text = orjson.dumps(docs).decode()
    assert not [m for m in planted if m in text] and all(d["event"]["provider"] == "crm" for d in docs)
    audits = [h["_source"] for h in es.search(index="veil-audit", query={"term": {"veil.batch": batch}},
                                              size=500)["hits"]["hits"]]
    assert audits and all(a["ecs"]["version"] and a["service"]["node"]["name"] and a["host"]["name"] for a in audits)
    assert not [m for m in planted if m in orjson.dumps(audits).decode()]
    dead = es.search(index="veil-deadletter", query={"term": {"veil.batch": batch}})["hits"]["hits"]
    assert len(dead) == 1 and "payload" not in dead[0]["_source"]
