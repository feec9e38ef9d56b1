"""Kibana saved objects: valid NDJSON, every referenced field defined by the index mappings."""

import json
import re

import pytest

from veil.ops import kibana
from veil.ops.stack.elastic import mapped_fields

AGGREGATABLE = {"keyword", "date", "integer", "long", "float", "double", "boolean"}


FIELDS = {kibana.REDACTED: mapped_fields("redacted") | {"latency_s": "double"}, kibana.AUDIT: mapped_fields("audit"),
          kibana.DEADLETTER: mapped_fields("deadletter")}


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return [json.loads(line) for line in kibana.bundled().splitlines()]


def test_bundled_file_is_what_the_code_builds(objects):
    assert kibana.bundled() == kibana.render(), "run `python -m veil.ops.kibana` to rewrite resources/kibana/veil.ndjson"
    assert {o["type"] for o in objects} == {"index-pattern", "search", "visualization", "dashboard"}
    assert len({o["id"] for o in objects}) == len(objects)


def test_every_reference_resolves_to_an_object_in_the_file(objects):
    ids = {(o["type"], o["id"]) for o in objects}
    for o in objects:
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in ids, (o["id"], ref)


def _view(o: dict) -> str:
    return next(r["id"] for r in o["references"] if r["type"] == "index-pattern")


def test_searches_and_visualizations_use_mapped_fields_aggregating_only_aggregatable_ones(objects):
    checked = 0
    for o in objects:
        if o["type"] not in ("search", "visualization"):
            continue
        fields = FIELDS[_view(o)]
        for col in o["attributes"].get("columns", []):
            assert col in fields, (o["id"], col)
            checked += 1
        if o["type"] == "visualization":
            for agg in json.loads(o["attributes"]["visState"])["aggs"]:
                if field := agg["params"].get("field"):
                    assert fields.get(field) in AGGREGATABLE, (o["id"], field)
                    checked += 1
        query = json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
        for field in re.findall(r"([\w.@]+)\s*[:<>]", query):
            assert field in fields, (o["id"], field)
            checked += 1
    assert checked >= 20


def test_data_views_use_the_time_field_and_the_latency_field_reads_mapped_dates(objects):
    views = {o["id"]: o["attributes"] for o in objects if o["type"] == "index-pattern"}
    for view_id, attrs in views.items():
        assert FIELDS[view_id][attrs["timeFieldName"]] == "date"
    script = json.loads(views[kibana.REDACTED]["runtimeFieldMap"])["latency_s"]["script"]["source"]
    for field in re.findall(r"doc\['([^']+)'\]", script):
        assert FIELDS[kibana.REDACTED][field] == "date"


def test_dashboard_panels_are_the_visualizations(objects):
    [dash] = [o for o in objects if o["type"] == "dashboard"]
    panels = json.loads(dash["attributes"]["panelsJSON"])
    names = {r["name"]: r["id"] for r in dash["references"]}
    assert {names[p["panelRefName"]] for p in panels} == {o["id"] for o in objects if o["type"] == "visualization"}


def test_the_review_panel_follows_the_review_threshold_and_the_prefix_reaches_every_data_view():
    objs = kibana.objects(prefix="acme", review_below=0.6)
    panel = next(o for o in objs if o["id"] == "veil-vis-review-queue")
    query = json.loads(panel["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
    assert "veil.confidence < 0.6" in query and "0.75" not in query
    titles = sorted(o["attributes"]["title"] for o in objs if o["type"] == "index-pattern")
    assert titles == ["acme-audit*", "acme-deadletter*", "acme-redacted*"]


def test_dead_letters_have_a_saved_search_and_a_dashboard_panel(objects):
    search = next(o for o in objects if o["id"] == "veil-search-deadletters")
    assert search["references"][0]["id"] == kibana.DEADLETTER and "error.type" in search["attributes"]["columns"]
    assert "payload" not in " ".join(search["attributes"]["columns"]).replace("payload_bytes", "").replace("payload_digest", "")
    board = next(o for o in objects if o["type"] == "dashboard")
    assert "veil-vis-deadletters" in {r["id"] for r in board["references"]}
