"""One root exception and a few subclasses; third-party errors are translated at the boundary."""


class VeilError(Exception):
    """Root of every error Veil raises on purpose."""

    #: The failure lies outside the record (a model, Kafka or Elasticsearch that cannot do its part):
    #: only such failures count toward stopping a worker. A record's own failure never does.
    infrastructure = False


class ConfigError(VeilError):
    """Settings are missing or contradictory."""


class InvalidInput(VeilError):
    """An inbound message cannot be processed; it goes to the dead-letter topic with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderError(VeilError):
    """An LLM provider produced no usable answer. ``retryable``: another try may succeed."""

    retryable = False
    infrastructure = True


class ProviderUnavailable(ProviderError):
    """The backend cannot be reached or is overloaded (connection refused, HTTP 5xx or 429)."""

    retryable = True


class ProviderTimeout(ProviderError):
    """The call ran past its deadline."""

    retryable = True


class AllProvidersFailed(ProviderError):
    """Every provider in a chain failed or was skipped; the caller fails closed."""

    def __init__(self, role: str, reasons: dict[str, str]) -> None:
        detail = "; ".join(f"{name}: {why}" for name, why in reasons.items()) or "no providers"
        super().__init__(f"every {role} provider failed ({detail})")
        self.reasons = reasons


class SinkError(VeilError):
    """The sink could not write; the batch is retried and offsets are not committed."""

    infrastructure = True


class ModelFetchError(VeilError):
    """A model file could not be obtained or did not match its checksum."""

    infrastructure = True


def is_infrastructure(err: BaseException) -> bool:
    """Whether ``err`` says a part the stream depends on is failing (it counts toward stopping the
    worker), rather than that one record cannot be processed (its dead letter is the stream working)."""
    if isinstance(err, VeilError):
        return err.infrastructure
    return isinstance(err, (ConnectionError, TimeoutError, MemoryError))


def safe_reason(err: BaseException, where: str) -> str:
    """Why something failed, fit for a log line, a dead letter or a report: Veil's own message
    (Veil's messages never quote the input), else the error's type and ``where`` (another library's
    message may quote what it was given: a JSON fragment, a value)."""
    if isinstance(err, InvalidInput):
        return err.reason
    if isinstance(err, VeilError):
        return str(err)
    return f"{type(err).__name__} {where}"
