"""Elasticsearch setup: composable index templates with strict mappings, write aliases over
rollover indices, and an ILM policy where the cluster has ILM.

Veil writes to and reads from the aliases ``{prefix}-redacted`` and ``{prefix}-audit``; each
points at numbered indices (``{prefix}-redacted-000001``, ...) of which one takes the writes.
ILM rolls them over where the cluster supports it; elsewhere (the embedded noida-db server)
:func:`rollover` does it on demand. Rollover is rare and documents keep their ``_id``, but a record
redelivered across a rollover lands in both indices; queries that must count records exactly
collapse on ``id``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources

from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError, TransportError

from veil.settings import ElasticsearchSettings
from veil.streams.sink import client_options

log = logging.getLogger(__name__)
TEMPLATES = ("redacted", "audit", "deadletter")
ILM_POLICY = "veil"
ILM_BODY = {"phases": {
    "hot": {"actions": {"rollover": {"max_primary_shard_size": "30gb", "max_age": "7d"}}},
    "delete": {"min_age": "180d", "actions": {"delete": {}}},
}}


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the cluster supports, probed once: the seam between real Elasticsearch and noida-db."""

    ilm: bool

    @classmethod
    def detect(cls, es: Elasticsearch) -> Capabilities:
        try:
            es.ilm.get_status()
            return cls(ilm=True)
        except (ApiError, TransportError) as err:
            log.info("no ILM on this cluster (%s); rollover only on demand", type(err).__name__)
            return cls(ilm=False)


def template_body(name: str, prefix: str) -> dict:
    raw = resources.files("veil.ops").joinpath(f"resources/es/{name}.json").read_text()
    return json.loads(raw.replace("{prefix}", prefix))


def mapped_fields(name: str, prefix: str = "veil") -> dict[str, str]:
    """A template's fields as dotted names with their types (``veil.origin.offset``: ``long``)."""
    out: dict[str, str] = {}

    def walk(props: dict, path: str = "") -> None:
        for key, spec in props.items():
            if "properties" in spec:
                walk(spec["properties"], f"{path}{key}.")
            else:
                out[path + key] = spec.get("type", "object")

    walk(template_body(name, prefix)["template"]["mappings"]["properties"])
    return out


def client(settings: ElasticsearchSettings, url: str | None = None) -> Elasticsearch:
    return Elasticsearch(url or settings.url, **client_options(settings))


def install(es: Elasticsearch, settings: ElasticsearchSettings, caps: Capabilities | None = None) -> list[str]:
    """Install the ILM policy (where supported) and the templates, and bootstrap each write alias
    with its first index. Idempotent. Returns the alias names."""
    caps = caps or Capabilities.detect(es)
    if caps.ilm:
        es.ilm.put_lifecycle(name=ILM_POLICY, policy=ILM_BODY)
    aliases = []
    for name in TEMPLATES:
        alias = f"{settings.index_prefix}-{name}"
        body = template_body(name, settings.index_prefix)
        if caps.ilm:
            body["template"]["settings"].update({"index.lifecycle.name": ILM_POLICY,
                                                 "index.lifecycle.rollover_alias": alias})
        es.indices.put_index_template(name=alias, **body)
        if es.indices.exists_alias(name=alias):
            # fields added by a newer Veil reach the index already taking writes (additive only);
            # a field whose type changed takes effect in a new write index, from the new template
            try:
                es.indices.put_mapping(index=alias, properties=body["template"]["mappings"]["properties"])
            except BadRequestError as err:
                log.warning("mapping of %s changed (%s): rolling it over to a new index", alias, err.error)
                es.indices.rollover(alias=alias)
        elif es.indices.exists(index=alias):  # a plain index from an older layout: keep using it
            log.warning("index %s is a concrete index, not an alias; rollover is off for it", alias)
        else:
            es.indices.create(index=f"{alias}-000001", aliases={alias: {"is_write_index": True}})
        aliases.append(alias)
    return aliases


#: Least privilege: what the stream workers and the sink need (bulk writes into Veil's indices), and
#: what people who query Veil's indices in Kibana need. ``veil setup`` creates them (security on).
WRITER_ROLE, READER_ROLE = "veil_writer", "veil_reader"


def role_bodies(prefix: str) -> dict[str, dict]:
    pattern = f"{prefix}-*"
    return {
        WRITER_ROLE: {"cluster": ["monitor"],
                      "indices": [{"names": [pattern], "privileges": ["create_doc", "index", "view_index_metadata"]}]},
        READER_ROLE: {"cluster": [],
                      "indices": [{"names": [pattern], "privileges": ["read", "view_index_metadata"]}]},
    }


def install_roles(es: Elasticsearch, settings: ElasticsearchSettings, worker: tuple[str, str] | None = None) -> list[str]:
    """Create (or update) the writer and reader roles, and the workers' user with the writer role
    when ``worker`` (username, password) is given. Needs a user allowed to manage security."""
    roles = role_bodies(settings.index_prefix)
    for name, body in roles.items():
        es.security.put_role(name=name, **body)
    if worker is not None:
        username, password = worker
        es.security.put_user(username=username, password=password, roles=[WRITER_ROLE],
                             full_name="Veil stream workers")
    return list(roles)


def write_index(es: Elasticsearch, alias: str) -> str:
    """The index that takes writes for ``alias`` (the alias itself for an old concrete index)."""
    try:
        found = es.indices.get_alias(name=alias)
    except NotFoundError:
        return alias
    for index, body in found.items():
        if body["aliases"][alias].get("is_write_index"):
            return index
    return sorted(found)[-1]


def rollover(es: Elasticsearch, alias: str, *, max_docs: int | None = None) -> str | None:
    """Start a new write index for ``alias`` (when it holds ``max_docs`` or more, if given).
    Returns the new index, or None when nothing rolled over."""
    conditions = {"max_docs": max_docs} if max_docs else None
    out = es.indices.rollover(alias=alias, conditions=conditions) if conditions else es.indices.rollover(alias=alias)
    return out["new_index"] if out.get("rolled_over") else None
