"""Veil's saved objects imported into a real Kibana (needs Docker; skipped where there is none)."""

import time

import httpx
import pytest

from veil.ops import kibana

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]
VERSION = "8.15.3"


@pytest.fixture(scope="module")
def kibana_url():
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network

    with Network() as net:
        es = (DockerContainer(f"docker.elastic.co/elasticsearch/elasticsearch:{VERSION}")
              .with_env("discovery.type", "single-node").with_env("xpack.security.enabled", "false")
              .with_env("ES_JAVA_OPTS", "-Xms512m -Xmx512m").with_network(net).with_network_aliases("es"))
        kb = (DockerContainer(f"docker.elastic.co/kibana/kibana:{VERSION}")
              .with_env("ELASTICSEARCH_HOSTS", "http://es:9200").with_network(net).with_exposed_ports(5601))
        with es, kb:
            url = f"http://{kb.get_container_host_ip()}:{kb.get_exposed_port(5601)}"
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    level = httpx.get(f"{url}/api/status", timeout=5).json()["status"]["overall"]["level"]
                except (httpx.HTTPError, ValueError, KeyError):  # still starting
                    level = None
                if level == "available":
                    break
                time.sleep(5)
            yield url


def test_saved_objects_import_into_a_real_kibana_and_the_dashboard_resolves(kibana_url):
    result = kibana.import_objects(kibana_url, kibana.bundled())
    assert result["successCount"] == len(kibana.objects())
    dash = httpx.get(f"{kibana_url}/api/saved_objects/dashboard/veil-dashboard", timeout=30).json()
    assert dash["attributes"]["title"] == "Veil overview" and len(dash["references"]) == 5
