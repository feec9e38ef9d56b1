"""``veil dev``, ``veil setup`` and ``veil kibana``: the embedded dev stack, a deployment's topics,
indices and roles, and Kibana's saved objects."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from veil.errors import ConfigError, VeilError
from veil.ops.cli_common import configured_models, console, fetch_model_files, kafka_ready, prepare_stack, state
from veil.settings import Settings

commands = typer.Typer()
dev_app = typer.Typer(help="The embedded dev stack (Kafka-protocol broker + Elasticsearch API), no Docker.",
                      no_args_is_help=True)
commands.add_typer(dev_app, name="dev")


@dev_app.command("up")
def dev_up(models: Annotated[bool, typer.Option(help="Also fetch the configured models.")] = True) -> None:
    """Start the broker and the Elasticsearch API on free ports, create topics and index templates."""
    prepare_stack(state.settings, fetch_models=models)


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


@commands.command("setup")
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
        roles = elastic.install_roles(es, s.elasticsearch, (worker_user, worker_password) if worker_user and worker_password else None)
    if models:
        fetch_model_files(s, configured_models(s))
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
        raise ConfigError(f"placeholder values in {', '.join(bad)}: set real secrets (in .env) before setup")


kibana_app = typer.Typer(help="Kibana saved objects: data views, searches, dashboard.", no_args_is_help=True)
commands.add_typer(kibana_app, name="kibana")


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
