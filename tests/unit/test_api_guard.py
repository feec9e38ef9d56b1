"""The worker API's guard: bearer token, body type and size, refusal of an open API off loopback."""

import asyncio

import pytest
from pydantic import SecretStr

from veil.errors import ConfigError
from veil.streams.service import ApiGuard, HttpError, is_loopback

TOKEN = "t0k3n-for-the-redact-api-31415"


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.8.0.3", True), ("::1", True), ("[::1]", True),
                                            ("localhost", True), ("0.0.0.0", False), ("::", False),
                                            ("10.0.0.7", False), ("veil-worker", False)])
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_an_open_api_off_loopback_is_refused_and_on_loopback_allowed():
    with pytest.raises(ConfigError, match=r"VEIL_STREAM__API_TOKEN is not set .* 0.0.0.0"):
        ApiGuard.build("0.0.0.0", None, 1000)
    ApiGuard.build("127.0.0.1", None, 1000).authorize(None)  # no token configured on loopback: open
    with pytest.raises(ConfigError, match="placeholder or shorter"):
        ApiGuard.build("0.0.0.0", SecretStr("change-me"), 1000)


@pytest.mark.parametrize("header, status", [(None, 401), ("", 401), ("Basic dTpw", 401), ("Bearer ", 401),
                                            ("Bearer wrong-token-of-some-length", 403), (f"Bearer {TOKEN}x", 403),
                                            (f"Bearer {TOKEN}", None), (f"bearer {TOKEN}", None)])
def test_the_token_is_required_wherever_one_is_configured(header, status):
    for host in ("0.0.0.0", "127.0.0.1"):
        guard = ApiGuard.build(host, SecretStr(TOKEN), 1000)
        if status is None:
            guard.authorize(header)
            continue
        with pytest.raises(HttpError) as err:
            guard.authorize(header)
        assert err.value.status == status and TOKEN not in err.value.reason
        assert (err.value.headers.get("WWW-Authenticate", "").startswith("Bearer")) is (status == 401)


@pytest.mark.parametrize("content_type, length, status", [
    ("application/json", 10, None), ("application/json; charset=utf-8", 10, None), ("application/ld+json", 1, None),
    ("text/plain", 10, 415), (None, 10, 415), ("application/json", 1001, 413), ("text/plain", 5000, 413),
    ("application/json", None, None)])
def test_body_type_and_declared_length(content_type, length, status):
    guard = ApiGuard.build("127.0.0.1", None, 1000)
    if status is None:
        guard.check_body(content_type, length)
        return
    with pytest.raises(HttpError) as err:
        guard.check_body(content_type, length)
    assert err.value.status == status


class Chunks:
    def __init__(self, data: bytes, size: int = 300) -> None:
        self.parts = [data[i:i + size] for i in range(0, len(data), size)]

    async def read(self, n: int) -> bytes:
        return self.parts.pop(0) if self.parts else b""


def test_a_body_without_a_length_is_cut_at_the_limit():
    guard = ApiGuard.build("127.0.0.1", None, 1000)
    assert asyncio.run(guard.read(Chunks(b"x" * 1000))) == b"x" * 1000
    with pytest.raises(HttpError) as err:
        asyncio.run(guard.read(Chunks(b"x" * 1001)))
    assert err.value.status == 413
