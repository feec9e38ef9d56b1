"""One training run end to end: dataset -> LoRA on Ray -> GGUF export -> evaluation gate ->
registry entry with lineage -> promotion on ``veil.control``. Every run is recorded in the store
(``runs/<id>/run.json``), promoted or not; ``veil train history`` lists them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel

from veil.composition import payload_sealer
from veil.models import registry
from veil.sealing import SealError
from veil.settings import Settings
from veil.training import bootstrap, dataset
from veil.training.dataset import DatasetInfo, Replayed, Sources
from veil.training.evaluate import Scores, Verdict, gate, policy_verdict, score_eval_set, score_judge
from veil.training.finetune import TrainConfig, TrainResult

log = logging.getLogger(__name__)


class RunRecord(BaseModel):
    id: str
    status: Literal["running", "rejected", "promoted", "registered", "failed"]
    started_at: datetime
    finished_at: datetime | None = None
    base_model: str
    dataset: DatasetInfo | None = None
    params: dict = {}
    train: TrainResult | None = None
    adapter_gguf: Path | None = None
    adapter_sha256: str | None = None
    modelfile: Path | None = None
    served_model: str | None = None
    served: Scores | None = None
    candidate: Scores | None = None
    verdict: Verdict | None = None
    catalog_name: str | None = None
    error: str | None = None


def _run_dir(settings: Settings, run_id: str) -> Path:
    return dataset.store(settings.training) / "runs" / run_id


def save(settings: Settings, run: RunRecord) -> None:
    folder = _run_dir(settings, run.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(run.model_dump_json(indent=2))


def history(settings: Settings) -> list[RunRecord]:
    runs = dataset.store(settings.training) / "runs"
    return sorted((RunRecord.model_validate_json(p.read_text()) for p in runs.glob("*/run.json")),
                  key=lambda r: r.started_at)


def base_of(settings: Settings) -> str:
    """What to fine-tune: the configured base, else the served model's own base (a tuned entry's
    adapter names it), else the served model."""
    m = settings.models
    if settings.training.base_model:
        return settings.training.base_model
    spec = registry.spec(m.security, m.catalog_file)
    return spec.adapter.base if spec.adapter and spec.adapter.base else m.security


def topic_sources(settings: Settings) -> Sources:
    """The replay window (``training.since`` to now) of the input, audit and feedback topics."""
    from veil.ops.kafka_range import Position, read_range

    boot, start = settings.kafka, Position.parse(settings.training.since)

    sealer = payload_sealer(settings)

    def replay(*names: str):
        for name in names:
            for m in read_range(boot, settings.topic(name), start):
                yield Replayed(m.topic, m.partition, m.offset, m.value)

    def labels():
        """People's labels, opened; one that does not open is not trusted (nor fatal)."""
        for m in replay("feedback"):
            try:
                yield Replayed(m.topic, m.partition, m.offset, sealer.open(m.value, "feedback"))
            except SealError:
                log.warning("training: skipped a feedback message that does not open partition=%d offset=%d",
                            m.partition, m.offset)

    return Sources(inputs=list(replay("docs.in", "logs.in")), audit=replay("audit"), feedback=labels())


def build_dataset(settings: Settings, sources: Sources) -> DatasetInfo:
    from veil.composition import build_redactor

    s = settings.training
    if s.bootstrap:
        sources.bootstrap = bootstrap.examples(context_chars=s.context_chars)
    redactor = build_redactor(settings)
    train, validation, stats = dataset.build(sources, s, synthesize=dataset.Synthesizer(redactor.scan))
    return dataset.write(train, validation, stats, s)


def _judge_for(settings: Settings, name: str, adapter: Path | None = None):
    """A judge served by llama.cpp: catalog entry ``name`` as it is, or its base with ``adapter``
    (a candidate, asked zero-shot as it was trained)."""
    from veil.models.llamacpp import LlamaCppProvider
    from veil.models.roles import SecurityJudge

    m = settings.models
    spec = registry.spec(name, m.catalog_file)
    if adapter is None:
        from veil.models import build

        return build.judge(m.model_copy(update={"security": name, "security_chain": []}))
    path = registry.resolve(name, m.cache_dir, m.paths, m.catalog_file)
    provider = LlamaCppProvider(model_path=path, name=name, version=f"{spec.version}+candidate", n_threads=m.n_threads,
                                n_ctx=m.n_ctx, lora_path=adapter)
    return SecurityJudge(provider, family=spec.family, examples=False)


def score(redactor, judge, validation, limit: int | None, eval_set: bool) -> Scores:
    if limit:  # a spread sample, the same for both models: ordered by a hash of the id
        validation = sorted(validation, key=lambda e: hashlib.sha256(e.id.encode()).hexdigest())[:limit]
    held, alone = score_judge(judge, validation, redactor.settle, policy_verdict(redactor))
    full = score_eval_set(redactor, judge, limit) if eval_set else None
    return Scores(held_out=held, judge_only=alone, eval_set=full)


def register(settings: Settings, run: RunRecord, base: str) -> str:
    """Add the candidate to the user catalog (``models.catalog_file``) with its lineage."""
    m = settings.models
    if m.catalog_file is None:
        raise ValueError("models.catalog_file is not set: nowhere to register the trained version")
    path = m.catalog_file.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    spec = registry.spec(base, m.catalog_file)
    name = f"{base}-veil-{run.id}"
    body = spec.model_dump(mode="json", exclude={"name", "adapter", "lineage"}, exclude_none=True)
    body["adapter"] = {"path": str(run.adapter_gguf), "version": run.id, "sha256": run.adapter_sha256,
                       "prompt": "zero-shot", "base": base}
    body["lineage"] = {"run": run.id, "dataset": run.dataset.version if run.dataset else None, "base": base,
                       "params": run.params,
                       "held_out_f1": run.candidate.held_out.f1 if run.candidate else None,
                       "held_out_leak_rate": run.candidate.held_out.leak_rate if run.candidate else None}
    entries[name] = body
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(entries, sort_keys=True))
    tmp.replace(path)
    return name


def run_once(settings: Settings, sources: Sources | None = None, *, user: str = "veil-train",
             eval_set: bool = True, force: bool = False, resume: str | None = None) -> RunRecord:
    """One run, or the rest of run ``resume`` (its dataset, training from its last checkpoint).
    ``force`` promotes whatever the gate says (recorded as such); for drills and tests."""
    import ray

    from veil.training import export

    s, m = settings.training, settings.models
    owned_ray = not ray.is_initialized()
    if resume:
        run = RunRecord.model_validate_json((_run_dir(settings, resume) / "run.json").read_text())
        run.status, run.error, run.finished_at = "running", None, None
        run_id, base = run.id, run.base_model
    else:
        run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        base = base_of(settings)
        run = RunRecord(id=run_id, status="running", started_at=datetime.now(UTC), base_model=base,
                        served_model=m.security,
                        params={k: getattr(s, k) for k in ("steps", "batch_size", "learning_rate", "lora_r",
                                                           "lora_alpha", "lora_dropout", "max_length", "label_balance",
                                                           "seed")})
    save(settings, run)
    try:
        if run.dataset is None:
            run.dataset = build_dataset(settings, sources if sources is not None else topic_sources(settings))
            save(settings, run)
        base_spec = registry.spec(base, m.catalog_file)
        base_gguf = registry.resolve(base, m.cache_dir, m.paths, m.catalog_file)
        folder = _run_dir(settings, run_id)
        cfg = TrainConfig(run_dir=folder, base_gguf=base_gguf, base_hf=base_spec.hf, family=base_spec.family,
                          train_file=run.dataset.path / "train.jsonl", steps=s.steps, batch_size=s.batch_size,
                          learning_rate=s.learning_rate, lora_r=s.lora_r, lora_alpha=s.lora_alpha,
                          lora_dropout=s.lora_dropout, max_length=s.max_length, checkpoint_every=s.checkpoint_every,
                          label_balance=s.label_balance, seed=s.seed, threads=max(1, int(s.num_cpus)))
        run.train = train_on_ray(cfg, num_cpus=s.num_cpus, num_gpus=s.num_gpus, ray_address=settings.ray.address)
        run.adapter_gguf = export.lora_to_gguf(run.train.adapter_dir, base_gguf, folder / "adapter.gguf")
        run.adapter_sha256 = hashlib.sha256(run.adapter_gguf.read_bytes()).hexdigest()
        run.modelfile = export.modelfile(base_gguf, run.adapter_gguf, folder / "Modelfile")
        save(settings, run)

        from veil.composition import build_redactor

        _, _, validation = dataset.load(run.dataset.path)
        redactor = build_redactor(settings)  # one NER load for both models' evaluation-set runs
        run.served = score(redactor, _judge_for(settings, m.security), validation, s.eval_limit, eval_set)
        run.candidate = score(redactor, _judge_for(settings, base, run.adapter_gguf), validation, s.eval_limit, eval_set)
        run.verdict = gate(run.candidate, run.served, min_f1_gain=s.gate_min_f1_gain,
                           max_leak_increase=s.gate_max_leak_increase)
        if force and not run.verdict.promote:
            run.verdict = Verdict(promote=True, reasons=[*run.verdict.reasons, "promoted by force"])
        if run.verdict.promote:
            run.catalog_name = register(settings, run, base)
            run.status = "registered"
            if s.promote:
                from veil.ops.control import promote

                promote(settings, run.catalog_name, user=user)
                run.status = "promoted"
        else:
            run.status = "rejected"
    except Exception as err:
        run.status, run.error = "failed", f"{type(err).__name__}: {str(err)[:300]}"
        raise
    finally:
        run.finished_at = datetime.now(UTC)
        save(settings, run)
        if owned_ray and ray.is_initialized():
            ray.shutdown()
    log.info("training run %s %s", run.id, run.status)
    return run


def train_on_ray(cfg: TrainConfig, *, num_cpus: float, num_gpus: float, ray_address: str | None) -> TrainResult:
    """Run :func:`training.finetune.train` as a Ray task (a local Ray, or the cluster at ``ray_address``)."""
    import os

    import ray

    from veil.training.finetune import train

    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        if ray_address:
            ray.init(address=ray_address, log_to_driver=True)
        else:
            ray.init(num_cpus=max(2, int(num_cpus)), num_gpus=int(num_gpus) or None, include_dashboard=False,
                     object_store_memory=128 << 20, configure_logging=False)
    task = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)(train)
    return ray.get(task.remote(cfg))
