"""What every ``veil`` sub-command shares: the consoles, the settings of this invocation, logging,
and the two readiness steps (the embedded stack, a Kafka cluster that answers)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from rich.console import Console

from veil.settings import Settings

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


class State:
    config: Path | None = None

    @property
    def settings(self) -> Settings:
        return Settings.load(self.config)


state = State()


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)  # one line per bulk request otherwise


def prepare_stack(settings: Settings, *, fetch_models: bool) -> Settings:
    from veil.ops.stack import dev, elastic, topics

    st, started = dev.up(settings)
    full = dev.with_stack(settings)
    topics.ensure_topics(full, st.kafka_bootstrap)
    elastic.install(elastic.client(full.elasticsearch), full.elasticsearch)
    if fetch_models:
        fetch_model_files(full, configured_models(full))
    verb = "started" if started else "already running"
    console.print(f"[green]dev stack {verb}[/]: kafka={st.kafka_bootstrap} elasticsearch={st.elasticsearch_url}")
    return full


def kafka_ready(settings: Settings | None = None) -> Settings:
    """The settings (the dev stack's addresses filled in) once the Kafka cluster has answered: every
    command that talks to Kafka asks first, so an unreachable broker or a refused login is one line,
    not librdkafka retrying in the terminal."""
    from veil.ops.stack import dev
    from veil.streams.preflight import check_kafka

    full = dev.with_stack(settings or state.settings)
    check_kafka(full.kafka)
    return full


def configured_models(settings: Settings) -> list[str]:
    m = settings.models
    return [m.general, m.security, *([m.ner] if m.ner else [])]


def fetch_model_files(settings: Settings, names: list[str]) -> None:
    from veil.models import registry

    m = settings.models
    for name in dict.fromkeys(names):
        if name in m.paths:
            console.print(f"{name}: using configured path {m.paths[name]}")
            continue
        with console.status(f"fetching {name}"):
            path = registry.fetch(name, m.cache_dir, m.catalog_file)
        console.print(f"{name}: [green]ok[/] {path}")
