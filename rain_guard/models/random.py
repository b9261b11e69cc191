"""Randomly initialised Llama-shaped models, for cost benchmarks where no weights can travel.

``load_model("random:llama-8b")`` builds a ``LlamaForCausalLM`` of that shape with random
weights (seed 0) and the embedded SmolLM2 tokenizer (49,152 tokens, so the embedding and
output layers are smaller than Llama 3's 128,256-token ones). Its answers are noise, but
every forward pass costs what the real model's would at the same sequence lengths, which is
all a work or time benchmark needs (``rain-guard bench --model random:llama-1b --device
cuda``). ``random:tiny`` is a two-layer toy for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rain_guard.errors import ModelNotFoundError

PREFIX = "random:"
# Shapes of Meta's Llama 3.x models (hidden size, MLP width, layers, heads, KV heads).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2),
    "llama-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                     num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=True),
    "llama-3b": dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=28,
                     num_attention_heads=24, num_key_value_heads=8, tie_word_embeddings=True),
    "llama-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                     num_attention_heads=32, num_key_value_heads=8),
}  # fmt: skip
SEED = 0


def is_random_name(name: str) -> bool:
    """True for names of the form ``random:<preset>``."""
    return name.lower().startswith(PREFIX)


def load_random(
    name: str,
    torch_dtype: Any,
    device: str | None = None,
    *,
    tokenizer_folder: Callable[[], Path],
) -> tuple[Any, Any, str]:
    """A random-weight Llama-shaped model and the embedded tokenizer.

    Args:
        name: ``random:<preset>``, a preset of ``PRESETS``.
        torch_dtype: Weight dtype (a torch dtype; "auto" means float32 here).
        device: Where to build the weights ("cuda", "cpu"; None: cpu). Building on the GPU
            avoids initialising billions of weights on the CPU.
        tokenizer_folder: Gives the folder of the embedded model's tokenizer files
            (``rain_guard.models.resolve.embedded_tokenizer_folder``); asked only once the
            preset is known.

    Raises:
        ModelNotFoundError: unknown preset (the message lists them).
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    preset = name[len(PREFIX) :].strip().lower()
    if preset not in PRESETS:
        raise ModelNotFoundError(
            f"unknown random model {name!r}; presets: " + ", ".join(f"{PREFIX}{p}" for p in PRESETS)
        )
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder())
    dtype = torch.float32 if torch_dtype == "auto" else torch_dtype
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **PRESETS[preset],
    )
    torch.manual_seed(SEED)
    with torch.device(device or "cpu"):
        model = LlamaForCausalLM._from_config(config, dtype=dtype)
    return model.eval(), tokenizer, f"{PREFIX}{preset} ({_billions(model)} random weights)"


def _billions(model: Any) -> str:
    count = sum(p.numel() for p in model.parameters())
    return f"{count / 1e9:.2f}B" if count >= 1e8 else f"{count / 1e6:.1f}M"
