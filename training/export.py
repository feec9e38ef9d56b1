"""Export a trained adapter for serving: a GGUF LoRA for llama.cpp and an Ollama Modelfile.

The GGUF adapter names each tensor after the base model's GGUF tensor (``blk.N.attn_q.weight``)
with ``.lora_a``/``.lora_b``, and carries the architecture and alpha. llama.cpp stores the query and
key projections of llama-architecture models with their rows permuted for its rotary layout, so
``lora_b`` of those two gets the same permutation (``lora_a`` works on the input side, untouched).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

_HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])\.weight$")
#: Architectures whose converter permutes q/k rows (llama.cpp's llama family); qwen2 does not.
_PERMUTED = {"llama"}


def gguf_name(peft_key: str) -> str:
    """``base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight`` -> ``blk.3.attn_q.weight.lora_a``."""
    m = _KEY.search(peft_key)
    if m is None:
        raise ValueError(f"unsupported adapter tensor {peft_key!r}")
    layer, module, ab = m.groups()
    return f"blk.{layer}.{_HF_TO_GGUF[module]}.weight.lora_{ab.lower()}"


def permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary row order for a q or k projection (and so for its lora_b)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _field(reader, key: str):
    f = reader.fields[key]
    value = f.parts[f.data[0]]
    return bytes(value).decode() if value.dtype == np.uint8 else value.item()


def base_info(base_gguf: Path) -> dict:
    from gguf import GGUFReader

    reader = GGUFReader(str(base_gguf))
    arch = _field(reader, "general.architecture")
    heads = _field(reader, f"{arch}.attention.head_count")
    kv = f"{arch}.attention.head_count_kv"
    return {"arch": arch, "n_head": heads, "n_head_kv": _field(reader, kv) if kv in reader.fields else heads}


def lora_to_gguf(adapter_dir: Path, base_gguf: Path, out: Path) -> Path:
    """Write ``adapter_dir`` (peft safetensors + config) as a GGUF LoRA adapter for ``base_gguf``."""
    from gguf import GGUFType, GGUFWriter, Keys
    from safetensors.numpy import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    info = base_info(base_gguf)
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    writer = GGUFWriter(str(out), info["arch"])
    writer.add_string(Keys.General.TYPE, GGUFType.ADAPTER)
    writer.add_string(Keys.Adapter.TYPE, "lora")
    writer.add_float32(Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    for key in sorted(tensors):
        name = gguf_name(key)
        w = tensors[key].astype(np.float32)
        if info["arch"] in _PERMUTED and name.endswith("lora_b"):
            if ".attn_q." in name:
                w = permute_rows(w, info["n_head"])
            elif ".attn_k." in name:
                w = permute_rows(w, info["n_head_kv"])
        writer.add_tensor(name, np.ascontiguousarray(w))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def modelfile(base_gguf: Path, adapter_gguf: Path, out: Path, *, temperature: float = 0.0) -> Path:
    """An Ollama Modelfile: the base weights with the adapter (``ollama create NAME -f Modelfile``)."""
    out.write_text(f"FROM {base_gguf}\nADAPTER {adapter_gguf}\nPARAMETER temperature {temperature}\n")
    return out
