"""Elasticsearch sink: ``add()`` and ``flush()``. A failed flush raises, so offsets are not committed."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import orjson
from elasticsearch import AsyncElasticsearch

from veil.errors import SinkError
from veil.settings import ElasticsearchSettings

log = logging.getLogger(__name__)


class ElasticsearchSink:
    """Buffers documents and writes them in one bulk request per flush.

    Each document carries its own ``_id`` (derived from the source record), so a redelivered
    record overwrites its earlier copy instead of duplicating it. A document may be given as the
    JSON bytes read from Kafka: they go into the request as they are, never parsed and re-written.
    """

    def __init__(self, client: AsyncElasticsearch, *, max_retry_seconds: float = 30.0,
                 on_retry: Callable[[], None] | None = None) -> None:
        self._client = client
        self._buffer: list[bytes] = []  # NDJSON pairs: action line, source line
        self._max_retry = max_retry_seconds
        self._on_retry = on_retry

    def add(self, index: str, doc_id: str, source: dict[str, Any] | bytes) -> None:
        body = source if isinstance(source, bytes) else orjson.dumps(source)
        self._buffer.append(b'{"index":' + orjson.dumps({"_index": index, "_id": doc_id}) + b"}\n" + body + b"\n")

    def __len__(self) -> int:
        return len(self._buffer)

    async def flush(self) -> int:
        """Write the buffer once; raises :class:`SinkError` and keeps the buffer on failure."""
        if not self._buffer:
            return 0
        batch, self._buffer = self._buffer, []
        try:
            response = await self._client.bulk(operations=b"".join(batch), refresh=False)
        except Exception as err:  # transport errors of every kind: ES is down or overloaded
            self._buffer = batch + self._buffer
            raise SinkError(f"bulk failed: {type(err).__name__}") from err
        if response.get("errors"):
            failed = [item for entry in response["items"] for item in entry.values() if item.get("status", 500) >= 300]
            self._buffer = batch + self._buffer  # ids make the rewrite of those that went in harmless
            reasons = {str(item.get("error", {}).get("type", "unknown")) for item in failed}
            raise SinkError(f"bulk rejected {len(failed)} documents: {sorted(reasons)}")
        return len(batch)

    async def flush_with_retry(self) -> int:
        """Flush until it succeeds, backing off with jitter; never drops a document."""
        delay = 0.2
        while True:
            try:
                return await self.flush()
            except SinkError as err:
                log.warning("sink flush failed, retrying error=%s delay=%.1fs pending=%d", err, delay, len(self))
                if self._on_retry is not None:
                    self._on_retry()
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self._max_retry)


def client_options(settings: ElasticsearchSettings) -> dict[str, Any]:
    """Connection options shared by the async sink client and the sync admin client."""
    options: dict[str, Any] = {"request_timeout": 30}
    if settings.api_key:
        options["api_key"] = settings.api_key.get_secret_value()
    elif settings.username and settings.password:
        options["basic_auth"] = (settings.username, settings.password.get_secret_value())
    if settings.ca_certs:
        options["ca_certs"] = str(settings.ca_certs)
    return options


def make_client(settings: ElasticsearchSettings) -> AsyncElasticsearch:
    return AsyncElasticsearch(settings.url, **client_options(settings))
