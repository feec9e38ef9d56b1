"""Process settings: one frozen object, built once at the entry point and passed down.

Sources, highest precedence first: keyword arguments, environment (``VEIL_`` prefix, ``__`` for
nesting, e.g. ``VEIL_KAFKA__BOOTSTRAP_SERVERS``), an optional YAML file, defaults.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from veil.errors import ConfigError
from veil.policy import Policy
from veil.schemas import Sampling
from veil.schemas.records import OnModelFailure

DEV_HMAC_KEY = "veil-dev-only-hmac-key-change-me"

#: Short names of Veil's topics; the full name is ``{prefix}.{short}`` (see :meth:`Settings.topic`).
TOPICS = ("docs.in", "logs.in", "analyzed", "redacted", "audit", "review", "feedback", "deadletter", "control",
          "decisions")
#: Topics that keep the last value per key (compaction) instead of a time window.
COMPACTED_TOPICS = ("decisions",)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    bootstrap_servers: str | None = Field(default=None, description="host:port[,host:port]; None: the dev stack's.")
    topic_prefix: str = "veil"
    partitions: int = Field(default=2, ge=1, description="Partitions of every topic without its own count.")
    topic_partitions: dict[str, int] = Field(default_factory=dict, description="Short topic name -> partitions.")
    replication_factor: int = Field(default=1, ge=1)
    session_timeout_ms: int = Field(default=6000, ge=1000)
    max_record_bytes: int = Field(default=1_000_000, ge=1024, description="Larger inbound records are dead-lettered.")
    max_message_bytes: int = Field(default=1_000_000, ge=4096, description=(
        "The largest message Veil writes: the producers' message.max.bytes and the topics' max.message.bytes. "
        "A redacted document over it is dead-lettered with the reason."))
    deadletter_payload_bytes: int = Field(default=65_536, ge=0, description=(
        "A dead letter keeps at most this many bytes of the record, with the whole record's size and sha256; "
        "the origin (topic, partition, offset) points at the rest."))
    # Security of every connection Veil makes (workers, sink, producers, replay, admin): see client_config.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_file: Path | None = Field(default=None, description="CA bundle that signed the brokers' certificates.")
    ssl_cert_file: Path | None = Field(default=None, description="Client certificate (mutual TLS).")
    ssl_key_file: Path | None = Field(default=None, description="The client certificate's private key.")
    ssl_key_password: SecretStr | None = None
    ssl_check_hostname: bool = Field(default=True, description="Check that a broker's certificate names its host.")
    preflight_timeout_s: float = Field(default=20.0, gt=0, description=(
        "How long a worker or command waits for the cluster to answer before it fails in one line."))

    @model_validator(mode="after")
    def _credentials_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL") and (not self.sasl_username or self.sasl_password is None):
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_username and sasl_password "
                             "(VEIL_KAFKA__SASL_USERNAME, VEIL_KAFKA__SASL_PASSWORD)")
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            raise ValueError("ssl_cert_file and ssl_key_file go together")
        return self

    @property
    def deadletter_payload_limit(self) -> int:
        """What a dead letter keeps of its record: ``deadletter_payload_bytes``, and never so much that
        the dead letter (the kept bytes sealed and in base64, with its reason and origin) would be
        over ``max_message_bytes``."""
        room = (self.max_message_bytes - 4096) * 3 // 4 - 64
        return max(0, min(self.deadletter_payload_bytes, room))

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def librdkafka(self) -> dict[str, Any]:
        """The connection part of every librdkafka client's configuration: address and security."""
        conf: dict[str, Any] = {"bootstrap.servers": self.bootstrap_servers or "",
                                "security.protocol": self.security_protocol.lower()}
        if self.security_protocol.startswith("SASL"):
            conf |= {"sasl.mechanism": self.sasl_mechanism, "sasl.username": self.sasl_username,
                     "sasl.password": self.sasl_password.get_secret_value()}  # type: ignore[union-attr]
        if self.uses_ssl:
            conf["ssl.endpoint.identification.algorithm"] = "https" if self.ssl_check_hostname else "none"
            for key, path in (("ssl.ca.location", self.ssl_ca_file), ("ssl.certificate.location", self.ssl_cert_file),
                              ("ssl.key.location", self.ssl_key_file)):
                if path is not None:
                    conf[key] = str(path)
            if self.ssl_key_password is not None:
                conf["ssl.key.password"] = self.ssl_key_password.get_secret_value()
        return conf


class ElasticsearchSettings(_Section):
    url: str | None = Field(default=None, description="None: the dev stack's.")
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: Path | None = None
    index_prefix: str = "veil"
    bulk_max_docs: int = Field(default=2000, ge=1, description="Documents per bulk request, at most.")
    flush_seconds: float = Field(default=0.5, gt=0)
    max_retry_seconds: float = Field(default=30.0, gt=0, description="Backoff ceiling while ES is unavailable.")

    @property
    def redacted_index(self) -> str:
        return f"{self.index_prefix}-redacted"

    @property
    def audit_index(self) -> str:
        return f"{self.index_prefix}-audit"

    @property
    def deadletter_index(self) -> str:
        """Dead letters without their payloads, for Kibana."""
        return f"{self.index_prefix}-deadletter"


class ProviderSettings(_Section):
    """One backend serving a role's model. A role's chain lists them in failover order."""

    backend: Literal["llamacpp", "ollama", "openai", "transformers"] = "llamacpp"
    model: str = Field(description="Catalog name (llamacpp, transformers), Ollama tag, or the server's model id (openai).")
    url: str | None = Field(default=None, description="Ollama host or OpenAI-compatible base URL (ending in /v1).")
    api_key: SecretStr | None = Field(default=None, description="Bearer token for an OpenAI-compatible server.")
    schema_mode: Literal["json_schema", "json_object"] = Field(
        default="json_schema", description="json_object for llama-cpp-python's server, json_schema for OpenAI and vLLM.")
    logprobs: bool = Field(default=True, description=(
        "Ask an OpenAI-compatible server for token probabilities (the judge measures its confidence from them); "
        "false for a server that refuses the field."))
    timeout_s: float = Field(default=60.0, gt=0)


class ModelSettings(_Section):
    cache_dir: Path = Path("~/.cache/veil/models")
    general: str = Field(default="qwen2.5-coder-0.5b", description=(
        "Registry name of the general analyst model (by default the judge's file: one download)."))
    security: str = Field(default="qwen2.5-coder-0.5b", description="Registry name of the security judge model.")
    paths: dict[str, Path] = Field(default_factory=dict, description="name -> local GGUF path, overriding the registry.")
    n_threads: int = Field(default=1, ge=1, description="Per model instance; 1 is fastest on small CPUs.")
    n_ctx: int = Field(default=2048, ge=256)
    general_enabled: bool = True
    security_enabled: bool = Field(default=True, description=(
        "False: no security model; every candidate the policy does not settle is redacted (detectors only)."))
    ner: str | None = Field(default="en-core-web-sm", description="NER model for names/places; None disables it.")
    general_max_chars: int = Field(default=1500, ge=100, description="Longer texts are truncated for the analyst.")
    catalog_file: Path | None = Field(default=Path("~/.cache/veil/catalog.yaml"), description=(
        "Your own catalog entries (YAML), merged over the built-in one; the training loop adds the versions it "
        "promotes here. Missing counts as empty."))
    general_chain: list[ProviderSettings] = Field(
        default_factory=list, description="Failover order for the general analyst; empty: llama.cpp with `general`.")
    security_chain: list[ProviderSettings] = Field(
        default_factory=list, description="Failover order for the security judge; empty: llama.cpp with `security`.")
    sampling: dict[str, Sampling] = Field(default_factory=dict, description="Per model name; the role's default otherwise.")
    retries: int = Field(default=2, ge=1, description="Tries per provider on retryable errors.")
    breaker_failures: int = Field(default=3, ge=1, description="Consecutive failures that open a provider's circuit.")
    breaker_reset_s: float = Field(default=30.0, gt=0, description="How long an open circuit skips its provider.")
    memory_budget_mb: float = Field(default=0.0, ge=0, description="Loaded models in one process; 0: no limit.")


class KibanaSettings(_Section):
    url: str | None = Field(default=None, description="e.g. http://kibana:5601; saved objects are imported here.")
    username: str | None = Field(default=None, description="Default: the Elasticsearch user.")
    password: SecretStr | None = None
    ca_certs: Path | None = None


class TrainingSettings(_Section):
    """The fine-tuning loop: dataset, LoRA, evaluation gate, promotion."""

    store_dir: Path = Field(default=Path("~/.cache/veil/training"), description=(
        "The protected training store: datasets, runs, adapters (created with owner-only permissions)."))
    base_model: str | None = Field(default=None, description="Catalog name to fine-tune; default: models.security.")
    sensitive_values: Literal["synthesize", "protect"] = Field(default="synthesize", description=(
        "synthesize: every detected value in an example is replaced by a generated one of the same type; "
        "protect: real values are kept, only inside the store."))
    since: str = Field(default="-7d", description="Replay window start for the topics (earliest, offset, ISO time, -7d).")
    context_chars: int = Field(default=120, ge=16, description="Text kept on each side of a span (as the judge sees it).")
    min_weak_confidence: float = Field(default=0.8, ge=0, le=1, description="Model decisions below this are not used as labels.")
    validation_share: float = Field(default=0.2, gt=0, lt=1)
    max_bucket_share: float = Field(default=0.35, gt=0, le=1, description=(
        "Category balance: no (category, label) bucket above this share of the training split."))
    bootstrap: bool = Field(default=True, description="Add the project's own bootstrap corpus.")
    steps: int = Field(default=60, ge=1)
    batch_size: int = Field(default=8, ge=1)
    learning_rate: float = Field(default=3e-4, gt=0)
    lora_r: int = Field(default=8, ge=1)
    lora_alpha: int = Field(default=16, ge=1)
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    label_balance: float = Field(default=0.35, ge=0, lt=1, description=(
        "Share of the rarer label (usually keep) in training batches, reached by repeating its examples; 0: as found."))
    max_length: int = Field(default=320, ge=64, description="Tokens per example (prompt and answer).")
    checkpoint_every: int = Field(default=20, ge=1)
    seed: int = 17
    num_cpus: float = Field(default=1.0, gt=0, description="CPUs of the Ray training task.")
    num_gpus: float = Field(default=0.0, ge=0, description="GPUs of the Ray training task (QLoRA when > 0 and bitsandbytes is there).")
    eval_limit: int | None = Field(default=None, ge=1, description="Examples per evaluation split, at most (None: all).")
    gate_min_f1_gain: float = Field(default=0.0, description="The candidate's F1 must exceed the served model's by more than this.")
    gate_max_leak_increase: float = Field(default=0.0, ge=0, description="Allowed rise of the leak rate (0: none).")
    promote: bool = Field(default=True, description="Announce a candidate that passes the gate on veil.control.")


class StreamSettings(_Section):
    on_model_failure: OnModelFailure = Field(
        default="redact", description="When the security model cannot be asked: redact every undecided candidate, "
                                      "or hold the record (retry, offsets not committed) until it can.")
    hold_backoff_max_s: float = Field(default=30.0, gt=0, description="Longest wait between retries while holding.")
    review_below: float = Field(default=0.75, ge=0, le=1, description="Model decisions below this confidence go to review.")
    web_enabled: bool = Field(default=True, description="Serve POST /v1/redact, GET /health and GET /metrics.")
    web_host: str = Field(default="127.0.0.1", description="0.0.0.0 in a container.")
    web_port: int = Field(default=6066, ge=0, le=65535, description="0: a free port (written to the worker's log).")
    api_token: SecretStr | None = Field(default=None, description=(
        "Bearer token required on POST /v1/redact and GET /metrics (GET /health stays open). Required when "
        "web_host is not a loopback address; when set, required on loopback too."))
    max_request_bytes: int = Field(default=1_000_000, ge=1024, description="Larger request bodies answer 413.")
    analyze_batch: int = Field(default=256, ge=1, description="Inbound records analyzed together, at most.")
    analyze_batch_ms: float = Field(default=20.0, gt=0, description="How long a batch of inbound records may wait to fill.")
    sink: bool = Field(default=True, description=(
        "Index the output topics into Elasticsearch from this worker (a thread of its own); false where "
        "`veil sink` runs as a process apart."))
    # The model work one record may cost (tokens per call are bounded by the roles' max_tokens and
    # the text shown: the analyst's excerpt, the judge's marked context). Past the budget the record
    # is redacted on the detectors' evidence (fail closed) and audited so; it is never waited on.
    analyst_budget_s: float = Field(default=30.0, gt=0, description=(
        "Wall time of the general analyst for one record (one call and its retry); past it, the detectors alone."))
    judge_budget_questions: int = Field(default=32, ge=0, description=(
        "Security-model questions for one record; candidates beyond them are redacted (fail closed)."))
    judge_budget_s: float = Field(default=60.0, gt=0, description=(
        "Wall time of one record's security-model questions; unanswered candidates are then redacted (fail closed), "
        "in hold mode too."))
    analyze_batch_llm: int = Field(default=16, ge=1, description=(
        "Inbound records analyzed together when the general analyst is on (each costs a model call)."))
    stall_s: float = Field(default=300.0, gt=0, description=(
        "A stage that has been on one record this long is reported down on /health (which record, by origin)."))
    max_consecutive_failures: int = Field(default=50, ge=1, description=(
        "A stage that fails on this many records in a row, none succeeding between, is broken, not unlucky: "
        "/health turns 503 and the worker stops with a non-zero exit, its unfinished records uncommitted."))


class CacheSettings(_Section):
    """Log templates and the caches of model answers (see ``veil.templates`` and ``veil.cache``)."""

    templates: bool = Field(default=True, description=(
        "Mine log lines into templates: the general model reads the template, the security model the line "
        "with the variable parts it is not asked about masked."))
    reuse: bool = Field(default=True, description=(
        "Reuse model answers: the general analysis once per template, a security decision once per candidate "
        "in its context. Off, every question is asked again (the same questions: figures do not change)."))
    template_similarity: float = Field(default=0.4, gt=0, le=1, description="Drain's similarity threshold.")
    template_depth: int = Field(default=4, ge=3, description="Drain's prefix-tree depth.")
    max_templates: int = Field(default=10_000, ge=1)
    max_decisions: int = Field(default=100_000, ge=1, description="Decision cache entries per worker (LRU).")
    share: bool = Field(default=True, description=(
        "Share decisions between workers and restarts through the compacted veil.decisions topic."))
    max_line_chars: int = Field(default=2000, ge=80, description="Longer log records are handled as documents.")


class RaySettings(_Section):
    address: str | None = Field(default=None, description="None: start a local Ray instance in the worker.")
    pool_size: int = Field(default=1, ge=1)
    actor_cpus: float = Field(default=1.0, gt=0)
    object_store_mb: int = Field(default=128, ge=64)
    max_in_flight: int = Field(default=4, ge=1, description="Micro-batches in flight per actor.")
    batch_max: int = Field(default=8, ge=1, description="Records per micro-batch, at most.")
    batch_window_ms: float = Field(default=0.0, ge=0, description=(
        "How long a batch waits to fill after its first record; 0 sends what is queued when a slot frees."))
    batch_parallel: int = Field(default=1, ge=1, description=(
        "Records of a batch judged at once in an actor: 1 for an in-process model, more for a model server."))

    @property
    def records_in_flight(self) -> int:
        """Records worth having in the security stage at once: enough to fill every batch slot."""
        return self.pool_size * self.max_in_flight * self.batch_max


class Settings(BaseSettings):
    """Everything a Veil process needs. Build with :meth:`load`."""

    model_config = SettingsConfigDict(
        env_prefix="VEIL_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    app_id: str = "veil"
    dev: bool | None = Field(default=None, description=(
        "Development mode: the built-in HMAC key is allowed (with a warning). Unset: on when no broker and no "
        "Elasticsearch URL is configured (the embedded dev stack, or no stack at all), off otherwise."))
    state_dir: Path = Field(default=Path(".veil"), description="Dev-stack state (ports, pids, data).")
    log_level: str = "INFO"
    hmac_key: SecretStr = Field(default=SecretStr(DEV_HMAC_KEY), description="Keys value hashes and pseudonyms.")
    encryption_key: SecretStr | None = Field(default=None, description="Secret for the reversible encrypt operator.")
    decisions_key: SecretStr | None = Field(default=None, description=(
        "Signs the decisions workers share on veil.decisions (HMAC-SHA256); an entry that does not verify is "
        "ignored. Every worker needs the same one. Unset: derived from the HMAC key under its own label."))
    payload_key: SecretStr | None = Field(default=None, description=(
        "Seals the raw text Veil keeps on its internal topics (dead-letter payloads, veil.analyzed, veil.review, "
        "veil.feedback). Every worker and operator of a deployment needs the same one; unset, a key kept in "
        "state_dir/payload.key (owner-only) is used, which is only shared by processes on this machine."))
    internal_domains: tuple[str, ...] = Field(default=(), description="Your own DNS domains; hosts under them are redacted.")
    phone_region: str = Field(default="US", description="Region for phone numbers written without +country code.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    kibana: KibanaSettings = Field(default_factory=KibanaSettings)
    policy: Policy = Field(default_factory=Policy)

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment, an optional YAML file and explicit overrides."""
        if config_file is None:
            return cls(**overrides)
        bound = type(cls.__name__, (cls,), {"model_config": {**cls.model_config, "yaml_file": str(config_file)}})
        return bound(**overrides)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings]
        if settings_cls.model_config.get("yaml_file"):
            sources.append(YamlConfigSettingsSource(settings_cls))
        return tuple(sources)

    def topic(self, name: str) -> str:
        """Full topic name for a short name: ``topic('docs.in') == 'veil.docs.in'``."""
        return f"{self.kafka.topic_prefix}.{name}"

    @property
    def uses_dev_hmac_key(self) -> bool:
        return self.hmac_key.get_secret_value() == DEV_HMAC_KEY

    @property
    def decisions_secret(self) -> bytes:
        """The key that signs shared decisions: ``decisions_key``, else one derived from ``hmac_key``."""
        if self.decisions_key is not None:
            return self.decisions_key.get_secret_value().encode()
        return hmac.digest(self.hmac_key.get_secret_value().encode(), b"veil/decisions-key/v1", hashlib.sha256)

    @property
    def is_dev(self) -> bool:
        """Development mode: ``dev`` when set, else whether no broker and no Elasticsearch is configured."""
        if self.dev is not None:
            return self.dev
        return not self.kafka.bootstrap_servers and not self.elasticsearch.url


#: Values of ``.env.example`` and the like that were never replaced: refused outside dev mode.
_PLACEHOLDER = re.compile(r"change[-_ ]?me|replace[-_ ]?me|your[-_ ]|^<.*>$|^x+$|^\*+$|^(?:secret|password|example|"
                          r"test|dummy|todo|fixme)$", re.I)
_warned_dev_key = False


def is_placeholder(value: str) -> bool:
    """A value that only stands in for a real one (``change-me``, ``<your-key>``, ``secret``)."""
    return not value.strip() or bool(_PLACEHOLDER.search(value.strip()))


def require_secret(variable: str, value: SecretStr | None, minimum: int) -> None:
    """Raise :class:`ConfigError` naming ``variable`` when a set secret is a placeholder or shorter
    than ``minimum`` characters (None: not set, nothing to check)."""
    if value is not None and (is_placeholder(value.get_secret_value()) or len(value.get_secret_value()) < minimum):
        raise ConfigError(f"{variable} is a placeholder or shorter than {minimum} characters; set it to a random secret")


def warn_dev_key(settings: Settings) -> None:
    """In development mode with the built-in HMAC key: one warning per process (the key is not shown)."""
    global _warned_dev_key
    if settings.is_dev and settings.uses_dev_hmac_key and not _warned_dev_key:
        _warned_dev_key = True
        import logging

        logging.getLogger("veil.settings").warning(
            "development mode: value hashes and pseudonyms use the built-in HMAC key; set VEIL_HMAC_KEY for real data")


def check_keys(settings: Settings, policy: Policy | None = None) -> None:
    """Refuse keys that protect nothing, outside development mode.

    Value hashes and pseudonyms are HMACs: with the development key (written in this file) anyone
    can recompute them and, for values from a small space (an IPv4 address, a phone number), find
    the value by trying candidates. So outside dev mode Veil does not start with it, nor with a
    placeholder or a key shorter than 32 characters, nor without an encryption key when the policy
    encrypts. In dev mode the development key is allowed (:func:`warn_dev_key` says so once).
    """
    if settings.is_dev:
        return
    if settings.uses_dev_hmac_key:
        raise ConfigError("VEIL_HMAC_KEY is not set: outside development mode Veil does not use its built-in key "
                          "(set VEIL_HMAC_KEY to a random secret of 32+ characters, or VEIL_DEV=true for development)")
    require_secret("VEIL_HMAC_KEY", settings.hmac_key, 32)
    require_secret("VEIL_DECISIONS_KEY", settings.decisions_key, 32)
    if "encrypt" in (policy or settings.policy).operators():
        if settings.encryption_key is None:
            raise ConfigError("the policy uses the encrypt operator but VEIL_ENCRYPTION_KEY is not set")
        require_secret("VEIL_ENCRYPTION_KEY", settings.encryption_key, 32)
