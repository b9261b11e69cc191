"""Model files that are missing, corrupt or incomplete, through the public loading paths
(``ChatRAIN(model=...)``, ``load_backend``, ``TransformersBackend.from_pretrained``).

Each case gives ModelNotFoundError (nothing loadable there) or ModelLoadError (found but
broken), naming the path. A tiny randomly initialised Llama with a BPE tokenizer is saved to
a temp folder (no download), which also shows the documented plain-text chat fallback of a
tokenizer without a chat template.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from rain_guard import ChatRAIN, Criterion, FunctionEvaluator
from rain_guard.backends.loading import load_backend
from rain_guard.backends.transformers.backend import TransformersBackend
from rain_guard.errors import CriterionError, ModelLoadError, ModelNotFoundError

pytestmark = pytest.mark.integration

CORPUS = ["Hello there. How are you today? I am fine, thanks.", "Bake a cake with flour."]


def save_tiny_model(folder: Path, chat_template: str | None = None) -> Path:
    """A 2-layer Llama and its byte-level BPE tokenizer, saved like a hub model folder."""
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(CORPUS * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128,
        eos_token_id=0, pad_token_id=0, bos_token_id=None,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def broken(tmp_path: Path, tiny_dir: Path) -> Path:
    """A fresh copy of the tiny model folder, for a test to damage."""
    return Path(shutil.copytree(tiny_dir, tmp_path / "model"))


def chat(model: str, **kwargs: object) -> ChatRAIN:
    settings = {"use_similarity": False, "t_min": 1, "t_max": 1, "max_tokens": 3}
    return ChatRAIN(
        model=model, evaluator=FunctionEvaluator(lambda p, a: 0.0), **settings, **kwargs
    )


def test_the_intact_tiny_model_answers(tiny_dir):
    message = chat(str(tiny_dir)).invoke("Hello there.")
    assert isinstance(message.content, str)
    assert message.response_metadata["stop_reason"] in ("length", "eos", "context")


def test_tokenizer_without_chat_template_uses_the_plain_fallback(tiny_dir):
    backend = load_backend(str(tiny_dir))
    assert not backend.tokenizer.chat_template
    ids = backend.chat_prompt_ids([("system", "Be brief."), ("user", "Hello there.")])
    assert backend.detokenize(ids) == "System: Be brief.\nUser: Hello there.\nAssistant:"
    message = chat(str(tiny_dir)).invoke([("system", "Be brief."), ("user", "Hello there.")])
    assert isinstance(message.content, str)


def test_unknown_model_path(tmp_path):
    missing = tmp_path / "no" / "such-model"
    with pytest.raises(ModelNotFoundError, match="such-model"):
        chat(str(missing)).invoke("hi")  # construction is lazy; the first call loads


def test_unknown_hub_id_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="no-such-org/no-such-model"):
        load_backend("no-such-org/no-such-model")


def test_folder_without_config_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelNotFoundError, match="config.json"):
        TransformersBackend.from_pretrained(str(tmp_path))


def test_a_file_that_is_not_gguf_is_not_a_model(broken):
    with pytest.raises(ModelNotFoundError, match="not a .gguf"):
        load_backend(str(broken / "model.safetensors"))


def test_truncated_weights(broken):
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="failed to load"):
        chat(str(broken)).invoke("hi")


def test_corrupt_weights(broken):
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 64)
    with pytest.raises(ModelLoadError, match=str(broken.name)):
        load_backend(str(broken))


def test_missing_weights(broken):
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="failed to load"):
        load_backend(str(broken))


def test_corrupt_config(broken):
    (broken / "config.json").write_text('{"model_type": "llama", "hidden_')
    with pytest.raises(ModelLoadError, match="failed to load"):
        load_backend(str(broken))


def test_config_of_an_unknown_architecture(broken):
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "model_type": "no-such-arch"}))
    with pytest.raises(ModelLoadError, match="failed to load"):
        load_backend(str(broken))


def test_missing_tokenizer(broken):
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (broken / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="failed to load"):
        load_backend(str(broken))


def test_corrupt_gguf(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00garbage" * 50)
    with pytest.raises(ModelLoadError, match="broken.gguf"):
        chat(str(bad)).invoke("hi")


def test_labels_that_are_several_tokens_for_this_tokenizer(tiny_dir):
    criterion = Criterion(
        "rare-words", "{answer} {option_a}?", "good", "bad", labels=("Zyzzyva", "Qoph")
    )
    llm = ChatRAIN(model=str(tiny_dir), criterion=criterion, use_similarity=False)
    with pytest.raises(CriterionError, match="labels must be exactly one token"):
        llm.invoke("hi")
