"""Which operator each entity gets, and when the security model may keep a candidate."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas import Category, Finding


class Policy(BaseModel):
    """Redaction policy. Lookups go entity, then category, then the default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_operator: str = "placeholder"
    category_operators: dict[Category, str] = Field(default_factory=dict)
    entity_operators: dict[str, str] = Field(default_factory=dict)
    auto_redact_score: float = Field(
        default=0.85, ge=0.0, le=1.0,
        description="Findings scoring at least this are redacted on the detector's evidence alone.",
    )
    keep_min_confidence: float = Field(
        default=0.8, ge=0.0, le=1.0, description="The security model must be at least this sure to keep a candidate."
    )
    allow_values: frozenset[str] = Field(default_factory=frozenset, description="Values never redacted.")
    min_llm_span_chars: int = Field(default=3, ge=1)

    def operator_for(self, finding: Finding) -> str:
        return self.entity_operators.get(
            finding.entity, self.category_operators.get(finding.category, self.default_operator)
        )

    def needs_model(self, finding: Finding) -> bool:
        """True when the detector's evidence alone does not settle the finding."""
        return finding.score < self.auto_redact_score
