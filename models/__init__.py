"""The LLM layer: one Provider protocol, backends, the two roles, and the model catalog."""

from veil.models.provider import Provider
from veil.models.roles import GeneralAnalyst, SecurityJudge

__all__ = ["GeneralAnalyst", "Provider", "SecurityJudge"]
