"""The LLM layer: one Provider protocol, backends, the two roles, and the model catalog."""

from models.provider import Provider
from models.roles import GeneralAnalyst, SecurityJudge

__all__ = ["GeneralAnalyst", "Provider", "SecurityJudge"]
