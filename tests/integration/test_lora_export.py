"""The GGUF LoRA export changes llama.cpp's output the way peft changes transformers' output."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("peft", reason="the train extra is not installed")
pytestmark = [pytest.mark.integration, pytest.mark.slow]

TEXT = "Decide if the text is private. Text: login for [[Anna Berg]] from 10.0.0.5"


def test_exported_adapter_moves_llama_cpp_logits_like_peft(small_model, tmp_path):
    import torch
    from llama_cpp import Llama
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    from veil.training.export import lora_to_gguf

    torch.manual_seed(0)
    hf = AutoModelForCausalLM.from_pretrained(str(small_model.parent), gguf_file=small_model.name, dtype=torch.float32)
    # q and k only: the projections whose rows llama.cpp permutes, so a wrong permutation shows
    peft_model = get_peft_model(hf, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj"], task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    save_file({k: v.contiguous() for k, v in get_peft_model_state_dict(peft_model).items()},
              str(adapter / "adapter_model.safetensors"))
    (adapter / "adapter_config.json").write_text(json.dumps({"lora_alpha": 8, "r": 4}))
    gguf = lora_to_gguf(adapter, small_model, tmp_path / "adapter.gguf")

    def llama_logits(lora):
        m = Llama(model_path=str(small_model), lora_path=lora, n_ctx=256, n_threads=1, logits_all=True, verbose=False)
        tokens = m.tokenize(TEXT.encode())
        m.eval(tokens)
        return np.array(m.scores[m.n_tokens - 1]), tokens

    base_ll, tokens = llama_logits(None)
    tuned_ll, _ = llama_logits(str(gguf))
    ids = torch.tensor([tokens])
    with torch.no_grad():
        tuned_hf = peft_model(ids).logits[0, -1].numpy()
        with peft_model.disable_adapter():
            base_hf = peft_model(ids).logits[0, -1].numpy()
    moved_ll, moved_hf = tuned_ll - base_ll, tuned_hf - base_hf
    assert np.linalg.norm(moved_ll) > 1.0  # the adapter does something in llama.cpp
    assert np.corrcoef(moved_ll, moved_hf)[0, 1] > 0.95
