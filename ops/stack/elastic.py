"""Elasticsearch setup: composable index templates with strict mappings, and the indices."""

from __future__ import annotations

import json
from importlib import resources

from elasticsearch import Elasticsearch

from streams.sink import client_options
from veil.settings import ElasticsearchSettings

TEMPLATES = ("redacted", "audit")


def template_body(name: str, prefix: str) -> dict:
    raw = resources.files("ops").joinpath(f"resources/es/{name}.json").read_text()
    return json.loads(raw.replace("{prefix}", prefix))


def client(settings: ElasticsearchSettings, url: str | None = None) -> Elasticsearch:
    return Elasticsearch(url or settings.url, **client_options(settings))


def install(es: Elasticsearch, settings: ElasticsearchSettings) -> list[str]:
    """Install the index templates and create the indices; idempotent. Returns the index names."""
    indices = []
    for name in TEMPLATES:
        body = template_body(name, settings.index_prefix)
        es.indices.put_index_template(name=f"{settings.index_prefix}-{name}", **body)
        index = f"{settings.index_prefix}-{name}"
        if not es.indices.exists(index=index):
            es.indices.create(index=index)
        indices.append(index)
    return indices
