"""What every ``veil`` sub-command shares: the consoles, the settings of this invocation, logging,
and the two readiness steps (the embedded stack, a Kafka cluster that answers)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path

from rich.console import Console
from rich.table import Table

from veil.settings import Settings

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def print_rows(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table on a terminal; tab-separated lines, nothing cut, when the output is piped."""
    if console.is_terminal:
        table = Table(*headers)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    sys.stdout.write("".join("\t".join(r) + "\n" for r in [headers, *rows]))


class ExitCode(IntEnum):
    """What ``veil`` exits with (the README's table)."""

    OK = 0
    FAILED = 1  #: the work could not be done (a service failed, an input file could not be read)
    USAGE = 2  #: the command line is wrong (an unknown option, a missing argument, a directory for a file)
    PARTIAL = 3  #: done, but some records were rejected or could not be redacted (each one reported)
    CONFIG = 4  #: the configuration cannot work: invalid settings, a policy, key or service address to fix
    INTERRUPTED = 130  #: Ctrl-C


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
