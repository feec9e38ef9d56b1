"""Kibana saved objects for Veil: data views, saved searches, visualizations and a dashboard.

Built here from the index mappings' field names, written to ``resources/kibana/veil.ndjson``
(``python -m veil.ops.kibana`` rewrites it) and imported with ``veil kibana import``.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

NDJSON = "resources/kibana/veil.ndjson"
REDACTED, AUDIT, DEADLETTER = "veil-redacted", "veil-audit", "veil-deadletter"
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def _source(query: str = "", index: bool = True) -> dict:
    body = {"query": {"query": query, "language": "kuery"}, "filter": []}
    if index:
        body["indexRefName"] = INDEX_REF
    return {"searchSourceJSON": json.dumps(body)}


def data_view(view_id: str, pattern: str, title: str, runtime: dict | None = None) -> dict:
    attrs = {"title": pattern, "name": title, "timeFieldName": "@timestamp"}
    if runtime:
        attrs["runtimeFieldMap"] = json.dumps(runtime)
    return {"id": view_id, "type": "index-pattern", "attributes": attrs, "references": []}


def saved_search(search_id: str, title: str, view: str, columns: list[str], query: str = "") -> dict:
    return {"id": search_id, "type": "search", "references": [{"name": INDEX_REF, "type": "index-pattern", "id": view}],
            "attributes": {"title": title, "columns": columns, "sort": [["@timestamp", "desc"]],
                           "kibanaSavedObjectMeta": _source(query)}}


def visualization(vis_id: str, title: str, view: str, kind: str, aggs: list[dict], query: str = "",
                  params: dict | None = None) -> dict:
    state = {"title": title, "type": kind, "aggs": aggs, "params": {"addTooltip": True, "addLegend": True, **(params or {})}}
    return {"id": vis_id, "type": "visualization", "references": [{"name": INDEX_REF, "type": "index-pattern", "id": view}],
            "attributes": {"title": title, "visState": json.dumps(state), "uiStateJSON": "{}", "description": "",
                           "version": 1, "kibanaSavedObjectMeta": _source(query)}}


def _agg(n: int, kind: str, schema: str, **params) -> dict:
    return {"id": str(n), "enabled": True, "type": kind, "schema": schema, "params": params}


def dashboard(dash_id: str, title: str, panels: list[str]) -> dict:
    layout, refs = [], []
    for i, vis in enumerate(panels):
        layout.append({"panelIndex": str(i), "gridData": {"x": (i % 2) * 24, "y": (i // 2) * 15, "w": 24, "h": 15, "i": str(i)},
                       "embeddableConfig": {}, "panelRefName": f"panel_{i}"})
        refs.append({"name": f"panel_{i}", "type": "visualization", "id": vis})
    return {"id": dash_id, "type": "dashboard", "references": refs,
            "attributes": {"title": title, "panelsJSON": json.dumps(layout), "optionsJSON": json.dumps({"useMargins": True}),
                           "timeRestore": False, "description": "Veil: what was redacted, where from, by whom, how fast",
                           "kibanaSavedObjectMeta": _source(index=False)}}


#: Seconds from the record's own time to the moment Veil redacted it (a runtime field, not indexed).
LATENCY = {"latency_s": {"type": "double", "script": {"source": (
    "if (doc['processed_at'].size() > 0 && doc['@timestamp'].size() > 0) { emit((doc['processed_at'].value.toInstant()"
    ".toEpochMilli() - doc['@timestamp'].value.toInstant().toEpochMilli()) / 1000.0); }")}}}


def objects(prefix: str = "veil", review_below: float = 0.75) -> list[dict]:
    """Veil's saved objects for indices named ``{prefix}-*``; the review panel counts model decisions
    below ``review_below`` (``stream.review_below``), the ones the stream queues for review."""
    time_axis = {"field": "@timestamp", "interval": "auto", "min_doc_count": 1, "extended_bounds": {}}
    return [
        data_view(REDACTED, f"{prefix}-redacted*", "Veil redacted documents", LATENCY),
        data_view(AUDIT, f"{prefix}-audit*", "Veil audit events"),
        data_view(DEADLETTER, f"{prefix}-deadletter*", "Veil dead letters"),
        saved_search("veil-search-redacted", "Veil: redacted documents", REDACTED,
                     ["event.provider", "kind", "text_kind", "language", "redacted_text"]),
        saved_search("veil-search-deadletters", "Veil: dead letters", DEADLETTER,
                     ["veil.stage", "error.type", "event.reason", "veil.origin.topic", "veil.origin.partition",
                      "veil.origin.offset", "veil.payload_bytes", "veil.payload_digest"]),
        saved_search("veil-search-model-decisions", "Veil: model decisions", AUDIT,
                     ["veil.entity", "event.action", "veil.confidence", "veil.model", "veil.model_version", "veil.rationale"],
                     query="veil.decided_by : model"),
        saved_search("veil-search-operator-actions", "Veil: operator actions", AUDIT,
                     ["user.name", "event.action", "event.outcome", "veil.operation.target", "veil.operation.model",
                      "veil.operation.count", "veil.operation.error"],
                     query="veil.operation.name : *"),
        visualization("veil-vis-category-over-time", "Redactions per category over time", AUDIT, "histogram",
                      [_agg(1, "count", "metric"), _agg(2, "date_histogram", "segment", **time_axis),
                       _agg(3, "terms", "group", field="veil.category", size=5, order="desc", orderBy="1")],
                      query="event.action : redact"),
        visualization("veil-vis-top-sources", "Top sources", REDACTED, "pie",
                      [_agg(1, "count", "metric"), _agg(2, "terms", "segment", field="event.provider", size=10,
                                                        order="desc", orderBy="1")]),
        visualization("veil-vis-review-queue", "Model decisions queued for review", AUDIT, "metric",
                      [_agg(1, "count", "metric")],
                      query=f"veil.decided_by : model and veil.cached : false and veil.confidence < {review_below:g}"),
        visualization("veil-vis-deadletters", "Dead letters by stage and error", DEADLETTER, "histogram",
                      [_agg(1, "count", "metric"), _agg(2, "date_histogram", "segment", **time_axis),
                       _agg(3, "terms", "group", field="veil.stage", size=5, order="desc", orderBy="1"),
                       _agg(4, "terms", "group", field="error.type", size=5, order="desc", orderBy="1")]),
        visualization("veil-vis-model-versions", "Decisions by model version", AUDIT, "table",
                      [_agg(1, "count", "metric"), _agg(2, "terms", "bucket", field="veil.model_version", size=10,
                                                        order="desc", orderBy="1"),
                       _agg(3, "terms", "bucket", field="veil.model", size=5, order="desc", orderBy="1")],
                      query="veil.decided_by : model"),
        visualization("veil-vis-latency", "Redaction latency (s)", REDACTED, "line",
                      [_agg(1, "percentiles", "metric", field="latency_s", percents=[50, 95, 99]),
                       _agg(2, "date_histogram", "segment", **time_axis)]),
        dashboard("veil-dashboard", "Veil overview", ["veil-vis-category-over-time", "veil-vis-top-sources",
                                                      "veil-vis-review-queue", "veil-vis-model-versions", "veil-vis-latency",
                                                      "veil-vis-deadletters"]),
    ]


def render(prefix: str = "veil", review_below: float = 0.75) -> str:
    return "".join(json.dumps(o, sort_keys=True) + "\n" for o in objects(prefix, review_below))


def bundled() -> str:
    return resources.files("veil.ops").joinpath(NDJSON).read_text()


def import_objects(url: str, ndjson: str, *, auth: tuple[str, str] | None = None, ca_certs: str | None = None,
                   overwrite: bool = True) -> dict:
    """POST the objects to Kibana's saved-objects import API; raises with Kibana's reasons on failure."""
    import httpx

    from veil.errors import VeilError

    with httpx.Client(base_url=url.rstrip("/"), auth=auth, verify=ca_certs or True, timeout=60) as http:
        r = http.post("/api/saved_objects/_import", params={"overwrite": str(overwrite).lower()},
                      headers={"kbn-xsrf": "veil"}, files={"file": ("veil.ndjson", ndjson.encode(), "application/ndjson")})
    try:
        body = r.json()
    except ValueError:
        body = {}
    if r.status_code != 200 or not body.get("success"):
        errors = [f"{e.get('type')}/{e.get('id')}: {e.get('error', {}).get('type')}" for e in body.get("errors", [])]
        raise VeilError(f"Kibana import failed (HTTP {r.status_code}): {'; '.join(errors) or body.get('message', r.text[:200])}")
    return body


if __name__ == "__main__":
    target = Path(__file__).parent / NDJSON
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render())
    sys.stdout.write(f"wrote {len(objects())} objects to {target}\n")
