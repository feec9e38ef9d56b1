"""One root exception and a few subclasses; third-party errors are translated at the boundary."""


class VeilError(Exception):
    """Root of every error Veil raises on purpose."""


class ConfigError(VeilError):
    """Settings are missing or contradictory."""


class InvalidInput(VeilError):
    """An inbound message cannot be processed; it goes to the dead-letter topic with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderError(VeilError):
    """No LLM provider produced a usable answer."""


class SinkError(VeilError):
    """The sink could not write; the batch is retried and offsets are not committed."""


class UnsafeOutput(VeilError):
    """Redacted text still contains a value that must not leave the pipeline; it is never written."""


class ModelFetchError(VeilError):
    """A model file could not be obtained or did not match its checksum."""
