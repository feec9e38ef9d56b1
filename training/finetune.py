"""LoRA fine-tuning of the security judge (transformers + peft), resumable from checkpoints.

The base model is loaded from the same GGUF file llama.cpp serves (dequantised by transformers),
or from a Hugging Face folder where the catalog names one (the GPU path; QLoRA when bitsandbytes is
there). The model learns the judge's zero-shot prompt and its JSON answer; the loss covers the
answer tokens only. Everything a run produces lives in its folder: ``checkpoints/step-N``,
``loss.jsonl``, ``adapter/``, ``loss.png`` and ``metrics.json``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from veil.training.examples import JudgeExample, answer, prompt_messages

log = logging.getLogger(__name__)
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainConfig(BaseModel):
    run_dir: Path
    base_gguf: Path | None = None
    base_hf: str | None = None  # a local folder: used instead of the GGUF (GPU path)
    family: str | None = None
    train_file: Path
    steps: int
    batch_size: int = 8
    learning_rate: float = 3e-4
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    max_length: int = 320
    checkpoint_every: int = 20
    label_balance: float = 0.35  # share of the rarer label in the batches (by repetition); 0: as found
    seed: int = 17
    threads: int | None = None
    stop_after: int | None = None  # stop (as if interrupted) after this many steps of this call


class TrainResult(BaseModel):
    adapter_dir: Path
    steps: int
    resumed_from: int
    final_loss: float
    first_loss: float
    seconds: float
    device: str
    quantized: bool
    examples: int
    finished: bool


def _load_base(cfg: TrainConfig, device: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if cfg.base_hf and Path(cfg.base_hf).is_dir():
        kwargs: dict[str, Any] = {}
        quantized = False
        if device == "cuda":
            try:
                import bitsandbytes  # noqa: F401
                from transformers import BitsAndBytesConfig

                kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                                   bnb_4bit_compute_dtype=torch.bfloat16)
                quantized = True
            except ImportError:
                kwargs["torch_dtype"] = torch.bfloat16
        tok = AutoTokenizer.from_pretrained(cfg.base_hf)
        model = AutoModelForCausalLM.from_pretrained(cfg.base_hf, **kwargs)
        return tok, model, quantized
    if cfg.base_gguf is None:
        raise ValueError("no base model: neither a GGUF file nor a Hugging Face folder")
    folder, name = str(cfg.base_gguf.parent), cfg.base_gguf.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    return tok, model, False


def encode(tok, ex: JudgeExample, family: str | None, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 on the prompt: the loss is on the answer)."""
    messages = [m.model_dump() for m in prompt_messages(ex, family)]
    prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    target = answer(ex).model_dump_json()
    end = tok.eos_token or ""
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    a_ids = tok(target + end, add_special_tokens=False)["input_ids"]
    p_ids = p_ids[-max(8, max_length - len(a_ids)):]  # keep the end of a long prompt (the question)
    ids = (p_ids + a_ids)[:max_length]
    labels = ([-100] * len(p_ids) + a_ids)[:max_length]
    return ids, labels


def balanced_pool(labels: list[str], minority_share: float) -> list[int]:
    """Example indices with the rarer label repeated until it makes up about ``minority_share`` of
    the pool (0 or already there: each once). A judge trained on 85% "redact" learns to always say so."""
    counts = {label: labels.count(label) for label in set(labels)}
    if minority_share <= 0 or len(counts) < 2:
        return list(range(len(labels)))
    rare = min(counts, key=counts.__getitem__)
    common = len(labels) - counts[rare]
    repeat = max(1, round(minority_share * common / ((1 - minority_share) * counts[rare])))
    return [i for i, label in enumerate(labels) for _ in range(repeat if label == rare else 1)]


def _batches(pool: list[int], size: int, seed: int):
    """Deterministic: the k-th batch is the same whether or not the run was resumed."""
    n = len(pool)
    epoch, order = -1, []
    k = 0
    while True:
        if k * size // max(n, 1) != epoch:
            epoch = k * size // max(n, 1)
            order = list(pool)
            random.Random(seed + epoch).shuffle(order)
        start = (k * size) % n
        idx = [order[(start + i) % n] for i in range(min(size, n))]
        yield idx
        k += 1


def _latest_checkpoint(run_dir: Path) -> Path | None:
    found = sorted((run_dir / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    complete = [p for p in found if (p / "state.json").is_file()]
    return complete[-1] if complete else None


def _save_adapter(model, folder: Path, cfg: TrainConfig) -> None:
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").float().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    save_file(state, str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": cfg.lora_r, "lora_alpha": cfg.lora_alpha, "lora_dropout": cfg.lora_dropout,
        "target_modules": list(TARGETS), "task_type": "CAUSAL_LM"}, indent=2))


def train(cfg: TrainConfig) -> TrainResult:
    """Run (or resume) the LoRA fine-tuning described by ``cfg``."""
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    tok, base, quantized = _load_base(cfg, device)
    if quantized:
        from peft import prepare_model_for_kbit_training

        base = prepare_model_for_kbit_training(base)
    model = get_peft_model(base, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                            target_modules=list(TARGETS), task_type="CAUSAL_LM"))
    if not quantized:
        model.to(device)
    examples = [JudgeExample.model_validate_json(line) for line in cfg.train_file.read_bytes().splitlines() if line]
    if not examples:
        raise ValueError(f"no training examples in {cfg.train_file}")
    encoded = [encode(tok, ex, cfg.family, cfg.max_length) for ex in examples]
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    warmup = max(1, cfg.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.1, 1 - s / max(cfg.steps, 1)))

    step = 0
    ckpt = _latest_checkpoint(cfg.run_dir)
    if ckpt is not None:
        set_peft_model_state_dict(model, load_file(str(ckpt / "adapter" / "adapter_model.safetensors")))
        opt.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
        sched.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=True))
        torch.set_rng_state(torch.load(ckpt / "rng.pt", weights_only=True))
        step = json.loads((ckpt / "state.json").read_text())["step"]
        log.info("training resumed from step %d (%s)", step, ckpt.name)
    resumed_from = step
    batches = _batches(balanced_pool([ex.label for ex in examples], cfg.label_balance), cfg.batch_size, cfg.seed)
    for _ in range(step):
        next(batches)

    losses_file = cfg.run_dir / "loss.jsonl"
    started, first_loss, loss_value = time.monotonic(), None, math.nan
    model.train()
    done_here = 0
    while step < cfg.steps:
        if cfg.stop_after is not None and done_here >= cfg.stop_after:
            break
        idx = next(batches)
        longest = max(len(encoded[i][0]) for i in idx)
        ids = torch.full((len(idx), longest), pad, dtype=torch.long)
        labels = torch.full((len(idx), longest), -100, dtype=torch.long)
        mask = torch.zeros((len(idx), longest), dtype=torch.long)
        for row, i in enumerate(idx):
            x, y = encoded[i]
            ids[row, :len(x)], labels[row, :len(y)], mask[row, :len(x)] = torch.tensor(x), torch.tensor(y), 1
        t0 = time.monotonic()
        out = model(input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device))
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        done_here += 1
        loss_value = float(out.loss.detach())
        first_loss = loss_value if first_loss is None else first_loss
        with losses_file.open("a") as fh:
            fh.write(json.dumps({"step": step, "loss": round(loss_value, 5), "lr": sched.get_last_lr()[0],
                                 "seconds": round(time.monotonic() - t0, 3)}) + "\n")
        log.info("train step %d/%d loss %.4f", step, cfg.steps, loss_value)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            _checkpoint(model, opt, sched, step, cfg)

    finished = step >= cfg.steps
    adapter_dir = cfg.run_dir / "adapter"
    if finished:
        _save_adapter(model, adapter_dir, cfg)
        plot_losses(losses_file, cfg.run_dir / "loss.png")
    curve = read_losses(losses_file)
    result = TrainResult(adapter_dir=adapter_dir, steps=step, resumed_from=resumed_from,
                         final_loss=curve[-1][1] if curve else loss_value,
                         first_loss=curve[0][1] if curve else (first_loss or math.nan),
                         seconds=round(time.monotonic() - started, 2), device=device, quantized=quantized,
                         examples=len(examples), finished=finished)
    (cfg.run_dir / "metrics.json").write_text(result.model_dump_json(indent=2))
    return result


def _checkpoint(model, opt, sched, step: int, cfg: TrainConfig) -> None:
    """Write ``checkpoints/step-N`` atomically (a folder is complete once state.json is in it)."""
    import torch

    final = cfg.run_dir / "checkpoints" / f"step-{step:06d}"
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    _save_adapter(model, tmp / "adapter", cfg)
    torch.save(opt.state_dict(), tmp / "optimizer.pt")
    torch.save(sched.state_dict(), tmp / "scheduler.pt")
    torch.save(torch.get_rng_state(), tmp / "rng.pt")  # dropout draws continue as if never stopped
    (tmp / "state.json").write_text(json.dumps({"step": step}))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted((cfg.run_dir / "checkpoints").glob("step-*"))[:-2]:  # keep the last two
        shutil.rmtree(old, ignore_errors=True)


def read_losses(path: Path) -> list[tuple[int, float]]:
    """(step, loss) per step; a resumed run's repeated steps keep their last value."""
    if not path.is_file():
        return []
    by_step = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            by_step[row["step"]] = row["loss"]
    return sorted(by_step.items())


def plot_losses(losses: Path, target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = read_losses(losses)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot([s for s, _ in curve], [v for _, v in curve], color="#3060a0", linewidth=1.5)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (answer tokens)")
    ax.set_title("security judge LoRA")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
