"""Cost of one record against its number of findings, and how the worker answers meanwhile.

    .venv/bin/python -m veil.ops.bench.findings_scale [--counts 1000,10000,30000] [--json out.json]

Each record is prose holding N distinct e-mail addresses (about 14.5 characters each with its
separator, so 30,000 make ~435k characters, as in the report that led to this benchmark).

1. In process: ``BatchEngine.run`` (detectors, triage, redaction, verification) and the stream's
   ``redact_record`` (document and one audit event per decision) for each N.
2. A real worker (``veil run``, detectors only, on the embedded broker and ES-API server in a
   temporary state folder): each record is sent to ``POST /v1/redact`` while another thread asks
   ``GET /health`` every 20 ms. Reported: the request's time and the slowest ``/health`` answer
   while it ran. Redaction runs on the worker's redaction thread, so the event loop keeps
   answering; before that change one 30,000-address request held ``/health`` for 105 s.

Every response is checked: N findings redacted and no address left in the text.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import orjson

from veil.ops.bench import write_figures
from veil.ops.stack.dev import free_port


def document(n: int, seed: int = 7) -> tuple[str, list[str]]:
    """Prose with ``n`` distinct addresses; returns the text and the addresses."""
    rng = random.Random(seed)
    words = ["write", "to", "or", "cc", "and", "ask"]
    addresses = [f"u{i:x}@ex{rng.randrange(90)}.io" for i in range(n)]
    parts = []
    for i, a in enumerate(addresses):
        parts.append(a if i % 4 else f"{rng.choice(words)} {a}")
    return " ".join(parts) + ".", addresses


def in_process(counts: list[int]) -> list[dict]:
    from veil.batch import BatchEngine
    from veil.composition import build_redactor
    from veil.schemas import Analysis, AnalyzedRecord, InboundRecord, RecordKind, SourceRef
    from veil.settings import Settings

    redactor = build_redactor(Settings())
    engine = BatchEngine(redactor)
    engine.run("warm", "warm up ana@example.org")
    rows = []
    for n in counts:
        text, addresses = document(n)
        started = time.perf_counter()
        result = engine.run("r", text)
        batch_s = time.perf_counter() - started
        _check(result.redacted_text, addresses, sum(f.action == "redact" for f in result.findings), n)
        rec = InboundRecord(id="r", kind=RecordKind.DOCUMENT, text=text, source="bench",
                            origin=SourceRef(topic="bench", partition=0, offset=0))
        started = time.perf_counter()
        found = redactor.scan(text)
        triage = redactor.triage(text, found)
        doc, events = redactor.records.redact_record(AnalyzedRecord(record=rec, analysis=Analysis(), candidates=found),
                                             redactor.conclude(triage, {}))
        record_s = time.perf_counter() - started
        _check(doc.redacted_text, addresses, len(doc.redactions), n)
        rows.append({"findings": n, "chars": len(text), "batch_run_s": round(batch_s, 3),
                     "stream_record_s": round(record_s, 3), "audit_events": len(events)})
        print(f"in process  {n:>6} findings, {len(text):>7} chars: veil redact {batch_s:6.2f} s, "
              f"stream record with {len(events)} audit events {record_s:6.2f} s", flush=True)
    return rows


def _check(redacted: str, addresses: list[str], redactions: int, n: int) -> None:
    if redactions != n:
        raise SystemExit(f"expected {n} redactions, got {redactions}")
    left = sum(a in redacted for a in addresses[:: max(1, n // 500)])
    if left:
        raise SystemExit(f"{left} sampled addresses survive in the output")


def _get(url: str, timeout: float = 600.0, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"} if body else {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.read()


class HealthProbe(threading.Thread):
    """Asks ``/health`` every ``every`` seconds and keeps the slowest answer since the last reset."""

    def __init__(self, url: str, every: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.url, self.every = url, every
        self.worst = 0.0
        self.asked = 0
        self.failed = 0
        self.stop = threading.Event()

    def reset(self) -> None:
        self.worst, self.asked, self.failed = 0.0, 0, 0

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                _get(self.url, timeout=300)
            except OSError:
                self.failed += 1
            took = time.perf_counter() - started
            self.worst = max(self.worst, took)
            self.asked += 1
            self.stop.wait(self.every)


def with_worker(counts: list[int]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="veil-scale-") as tmp:
        env = dict(os.environ, VEIL_STATE_DIR=tmp, VEIL_MODELS__GENERAL_ENABLED="false",
                   VEIL_MODELS__SECURITY_ENABLED="false", VEIL_APP_ID=f"veil-scale-{os.getpid()}")
        veil = [sys.executable, "-m", "veil.ops.cli"]
        subprocess.run([*veil, "dev", "up", "--no-models"], env=env, check=True, capture_output=True)
        port = free_port()
        log = Path(tmp) / "worker.log"
        worker = subprocess.Popen([*veil, "run"], env=dict(env, VEIL_STREAM__WEB_PORT=str(port)),
                                  stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base, worker, log)
            probe = HealthProbe(f"{base}/health")
            probe.start()
            for n in counts:
                text, addresses = document(n)
                body = orjson.dumps({"id": f"scale-{n}", "text": text})
                probe.reset()
                started = time.perf_counter()
                _status, raw = _get(f"{base}/v1/redact", body=body)
                took = time.perf_counter() - started
                out = orjson.loads(raw)
                _check(out["redacted_text"], addresses, sum(f["action"] == "redact" for f in out["findings"]), n)
                rows.append({"findings": n, "chars": len(text), "http_s": round(took, 3),
                             "health_worst_s": round(probe.worst, 4), "health_asked": probe.asked,
                             "health_failed": probe.failed})
                print(f"POST /v1/redact {n:>6} findings: {took:6.2f} s; /health asked {probe.asked} times meanwhile, "
                      f"slowest {probe.worst * 1000:.0f} ms, failed {probe.failed}", flush=True)
            probe.stop.set()
        finally:
            worker.send_signal(2)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
            subprocess.run([*veil, "dev", "down"], env=env, capture_output=True)
    return rows


def _wait_healthy(base: str, worker: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited with {worker.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if _get(f"{base}/health", timeout=5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the worker did not become healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000,30000", help="findings per record, comma-separated")
    parser.add_argument("--no-worker", action="store_true", help="only the in-process figures")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    figures = {"in_process": in_process(counts)}
    if not args.no_worker:
        figures["worker"] = with_worker(counts)
    write_figures(args.json, figures)


if __name__ == "__main__":
    main()
