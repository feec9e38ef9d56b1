"""Elastic Common Schema parts Veil writes: ``ecs``, ``event``, ``service``, ``host``, ``error``.

Field names and types follow ECS 8.17 (``../shared/reference/elastic-ecs-8.17/ecs_flat.yml``; a test
checks every field Veil indexes that has an ECS name against it, and the categorisation values).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: The ECS release Veil's documents follow (``../shared/reference/elastic-ecs-8.17`` in the tests).
ECS_VERSION = "8.17.0"


class Ecs(BaseModel):
    version: str = ECS_VERSION


EventCategory = Literal["process", "configuration"]
EventType = Literal["info", "change", "error"]


def _process() -> list[EventCategory]:
    return ["process"]


def _info() -> list[EventType]:
    return ["info"]


class EcsEvent(BaseModel):
    """ECS ``event.*``: the categorisation values are those ECS allows (a test checks them)."""

    kind: Literal["event", "pipeline_error"] = "event"
    category: list[EventCategory] = Field(default_factory=_process)
    type: list[EventType] = Field(default_factory=_info)
    action: str = Field(description="redact | keep for decisions; the operation for operator actions")
    outcome: Literal["success", "failure", "unknown"] = "success"
    dataset: str = "veil.audit"
    id: str | None = Field(None, description="Unique id of the event (the document's _id).")
    reason: str | None = Field(None, description="Why a dead letter was made.")


class EcsService(BaseModel):
    """ECS ``service.*``: which Veil process wrote the event."""

    name: str = "veil"
    type: str = "veil"
    version: str | None = None
    node: dict[str, str] = Field(default_factory=dict, description="{'name': host:pid of the worker}")


class EcsHost(BaseModel):
    name: str


def process_identity(service_name: str = "veil") -> tuple[EcsService, EcsHost]:
    """``service.*`` and ``host.*`` of this process: which worker wrote an event."""
    import os
    import socket
    from importlib.metadata import PackageNotFoundError, version

    try:
        release: str | None = version("veil")
    except PackageNotFoundError:
        release = None
    host = socket.gethostname()
    return (EcsService(name=service_name, version=release, node={"name": f"{host}:{os.getpid()}"}), EcsHost(name=host))


class EcsError(BaseModel):
    type: str
    message: str



class DocumentEvent(BaseModel):
    """ECS ``event.*`` of a redacted document: which system produced the record (``event.provider``:
    not ``source``, which ECS reserves for the network source object)."""

    kind: Literal["event"] = "event"
    dataset: Literal["veil.redacted"] = "veil.redacted"
    provider: str = Field(description="The producing system ('crm'), as indexed: a keyed hash when a detector "
                                      "finds a value in the name.")
    id: str | None = None
