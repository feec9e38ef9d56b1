"""orjson encoding for every message Veil puts on a topic or sends to Elasticsearch."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def dumps(model: BaseModel) -> bytes:
    """Serialize a model to JSON bytes, using field aliases (``@timestamp``) and dropping nulls."""
    return orjson.dumps(model.model_dump(mode="json", by_alias=True, exclude_none=True))


def loads(model_type: type[M], data: bytes | str) -> M:
    """Parse and validate JSON bytes into ``model_type``; raises ``pydantic.ValidationError``."""
    return model_type.model_validate_json(data)
