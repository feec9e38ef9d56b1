"""Composition: the parts of a Veil process built from its settings (the redaction core, the sealer
of internal topics, each Kafka client's configuration, private folders). ``veil.settings`` is the
schema alone; entry points read settings once and build what they need here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from veil.errors import ConfigError
from veil.schemas import process_identity
from veil.settings import KafkaSettings, Settings, check_keys, warn_dev_key

if TYPE_CHECKING:  # built on demand: a command that only needs a Kafka client does not load the detectors
    from veil.batch import BatchEngine
    from veil.policy import Policy
    from veil.redactor import Redactor
    from veil.sealing import Sealer

#: What a Kafka client is given: the settings (address and security), a librdkafka connection
#: mapping, or a plain ``host:port`` (a plaintext broker: the embedded stack, tests).
KafkaConnection = KafkaSettings | Mapping[str, Any] | str


def client_config(kafka: KafkaConnection, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The librdkafka configuration of one client: the connection (address and security, from the
    settings) plus the client's own options. Every Kafka client Veil builds goes through here, so
    none is left on plaintext when the cluster asks for TLS or SASL (a test holds the source to it).
    A plain ``host:port`` string is a plaintext connection (the embedded stack, tests)."""
    if isinstance(kafka, KafkaSettings):
        base = kafka.librdkafka()
    elif isinstance(kafka, str):
        base = {"bootstrap.servers": kafka}
    else:
        base = dict(kafka)
    if not base.get("bootstrap.servers"):
        raise ConfigError("no Kafka broker configured: set VEIL_KAFKA__BOOTSTRAP_SERVERS or run `veil dev up`")
    return {**base, **(extra or {})}


def private_dir(path: Path) -> Path:
    """Create ``path`` readable by its owner only (it holds the index data, logs and tokens of
    the dev stack), and tighten it if it exists."""
    path = path.resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


PAYLOAD_KEY_FILE = "payload.key"


def payload_sealer(settings: Settings) -> Sealer:
    """The :class:`~veil.sealing.Sealer` of internal topics: ``VEIL_PAYLOAD_KEY``, else the dev key
    file in the state folder (created owner-only, 256 random bits, on first use)."""
    import secrets

    from veil.sealing import Sealer

    if settings.payload_key is not None:
        return Sealer(settings.payload_key.get_secret_value().encode())
    path = private_dir(settings.state_dir) / PAYLOAD_KEY_FILE
    if not path.exists():  # written whole, then linked: a process starting meanwhile never reads half a key
        tmp = path.with_name(f".{PAYLOAD_KEY_FILE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process was first: its key is the one
        finally:
            tmp.unlink()
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise ConfigError(f"{path} does not hold a payload key; delete it or set VEIL_PAYLOAD_KEY")
    return Sealer(secret.encode())


def build_redactor(settings: Settings, policy: Policy | None = None) -> Redactor:
    """The redaction core configured from settings (keys, internal domains, phone region)."""
    from veil.detectors import default_detectors
    from veil.operators import derive_siv_key
    from veil.redactor import Redactor

    check_keys(settings, policy)
    enc = settings.encryption_key
    detectors = default_detectors(internal_domains=settings.internal_domains, phone_region=settings.phone_region)
    m = settings.models
    if m.ner:
        from veil.detectors.ner import NerDetector
        from veil.models import registry

        detectors.append(NerDetector(registry.resolve(m.ner, m.cache_dir, m.paths)))
    service, host = process_identity()
    redactor = Redactor(
        policy=policy or settings.policy, hmac_key=settings.hmac_key.get_secret_value().encode(),
        detectors=detectors,
        encryption_key=derive_siv_key(enc.get_secret_value()) if enc else None,
        service=service, host=host,
    )
    warn_dev_key(settings)  # once the configuration is known to be usable
    return redactor


def build_engine(settings: Settings, *, llm: bool = True, policy: Policy | None = None, reuse: bool = True,
                 profile: Literal["pii", "anonymize"] | str | None = None) -> BatchEngine:
    """The record pipeline ``veil redact`` runs: the redaction core, the template miner and caches,
    and with ``llm`` the general analyst and the security judge (their model files must be on hand:
    ``veil models fetch``). Without ``llm`` every uncertain candidate is redacted (fail closed)."""
    from veil.batch import BatchEngine
    from veil.cache import Caching

    policy = policy or settings.policy
    if profile is not None:
        if profile not in ("pii", "anonymize"):
            raise ConfigError(f"unknown profile '{profile}': use pii or anonymize")
        policy = policy.model_copy(update={"profile": profile})
    redactor = build_redactor(settings, policy)
    secret = settings.hmac_key.get_secret_value().encode()
    cache_settings = settings.cache.model_copy(update={"reuse": settings.cache.reuse and reuse})
    if not llm:
        return BatchEngine(redactor, caching=Caching.build(cache_settings, secret))
    from veil.errors import ModelFetchError
    from veil.models import build

    try:
        roles = build.ROLES if settings.models.general_enabled else ("security",)
        manager = build.manager(settings.models, roles)
        analyst = build.analyst(settings, manager)
        judge = build.judge(settings.models, manager)
    except ModelFetchError as err:
        raise ConfigError(f"{err} (or pass --no-llm for detectors only)") from None
    return BatchEngine(redactor, analyst=analyst, judge=judge, caching=Caching.build(cache_settings, secret, analyst))
