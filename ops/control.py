"""Operator commands to the running workers, on ``veil.control`` (recorded on ``veil.audit``)."""

from __future__ import annotations

from veil.ops.kafka_range import Writer
from veil.schemas import ControlCommand, OperatorEvent, dumps, operator_event
from veil.settings import Settings


def audit(writer: Writer, settings: Settings, event: OperatorEvent) -> None:
    """Record an operator action on veil.audit; the worker's sink indexes it with the decisions."""
    writer.send(settings.topic("audit"), dumps(event), key=event.id.encode())


def promote(settings: Settings, name: str, *, role: str = "security", user: str) -> ControlCommand:
    """Ask every running worker to hot-swap ``role`` to catalog entry ``name``."""
    cmd = ControlCommand(action="swap", role=role, model=name, issued_by=user)
    w = Writer(settings.kafka, max_message_bytes=settings.kafka.max_message_bytes)
    w.send(settings.topic("control"), dumps(cmd))
    audit(w, settings, operator_event("model-promote", user, configuration=True, target=role, model=name))
    w.close()
    return cmd
