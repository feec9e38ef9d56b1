"""The installed Elasticsearch client talks to the Elasticsearch the compose file runs.

A client of major N sends ``compatible-with=N`` in its Accept and Content-Type headers; Elasticsearch
of major M answers 400 ``media_type_header_exception`` unless N is M or M - 1 (REST API
compatibility, elastic/elasticsearch-py#2927). The embedded ES-API server accepts any, so only this
check sees a mismatch.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPATIBLE = re.compile(r"compatible-with=(\d+)")


def stack_major() -> int:
    """The major of the Elasticsearch image compose runs (its default tag, and .env.example's)."""
    image = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["elasticsearch"]["image"]
    default = re.fullmatch(r"docker\.elastic\.co/elasticsearch/elasticsearch:\$\{STACK_VERSION:-([\d.]+)\}", image)
    assert default, image
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if "=" in line and not line.startswith("#"))
    assert example["STACK_VERSION"] == default.group(1), "the compose default and .env.example name different stacks"
    return int(default.group(1).split(".")[0])


def accepted(server_major: int, header: str) -> bool:
    """Whether Elasticsearch ``server_major`` takes a request with this Accept/Content-Type header."""
    m = COMPATIBLE.search(header)
    return m is None or int(m.group(1)) in (server_major, server_major - 1)


def test_the_rule_refuses_a_newer_client_header():
    assert accepted(8, "application/vnd.elasticsearch+json; compatible-with=8")
    assert accepted(8, "application/vnd.elasticsearch+json; compatible-with=7")
    assert not accepted(8, "application/vnd.elasticsearch+json; compatible-with=9")


def test_the_installed_client_has_the_major_of_the_compose_stack():
    assert int(version("elasticsearch").split(".")[0]) == stack_major()


def test_the_headers_the_client_sends_are_ones_the_compose_stack_accepts(httpserver):
    from elasticsearch import Elasticsearch

    seen: list[dict[str, str]] = []

    def answer(request):
        from werkzeug import Response

        seen.append(dict(request.headers))
        return Response('{"took": 1, "errors": false, "items": []}', status=200,
                        headers={"Content-Type": "application/json", "X-Elastic-Product": "Elasticsearch"})

    httpserver.expect_request("/_bulk", method="PUT").respond_with_handler(answer)
    httpserver.expect_request("/_bulk", method="POST").respond_with_handler(answer)
    es = Elasticsearch(httpserver.url_for("/"))
    es.bulk(operations=[{"index": {"_index": "x", "_id": "1"}}, {"a": 1}])
    assert seen, "the client sent nothing"
    major = stack_major()
    for headers in seen:
        for name in ("Accept", "Content-Type"):
            value = headers.get(name, "")
            assert COMPATIBLE.search(value), f"{name}: {value}"
            assert accepted(major, value), f"Elasticsearch {major} refuses {name}: {value}"


def test_pyproject_admits_only_clients_of_the_stack_major():
    """A fresh install takes what pyproject allows, not what this venv holds."""
    import tomllib

    from packaging.requirements import Requirement

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(Requirement(d).specifier for d in deps if Requirement(d).name == "elasticsearch")
    major = stack_major()
    assert f"{major}.19.0" in spec and f"{major + 1}.0.0" not in spec and f"{major - 1}.17.0" not in spec, str(spec)
