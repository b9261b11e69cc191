"""A tiny random Llama and byte-level BPE tokenizers, built in memory for backend tests.

Shared by test_transformers_backend.py, test_caching_equivalence.py, test_kv_memory.py and
test_openai_compat.py (imported as a plain module: pytest puts this folder on sys.path), with
the ``one_thread`` fixture they import and the ``TINY`` criterion.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from rain_guard.judging.criteria import Criterion

CORPUS = [
    "Hello there. How are you today? I am fine, thanks.",
    "To bake a cake, mix flour, sugar and eggs; then bake it for an hour.",
    "I cannot help with that: it is not safe. Sorry!",
    "The quick brown fox jumps over the lazy dog.\nA new line starts here.",
]
# A short plain-text criterion whose labels are single bytes, hence one token each.
TINY = Criterion("tiny", "Q: {prompt}\nA: {answer}\nIs it {option_a}?", "safe", "bad",
                 labels=("A", "B"), chat=False)  # fmt: skip
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def byte_bpe_tokenizer(
    corpus: Sequence[str], vocab_size: int, chat_template: str | None = CHATML, **tokens: str
) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on ``corpus`` (x4), with SPECIALS and the given role tokens."""
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(list(corpus) * 4, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, **tokens)
    tok.chat_template = chat_template
    return tok


def make_tokenizer(chat_template: str | None = CHATML) -> PreTrainedTokenizerFast:
    """The tokenizer of the tiny Llama: 320 tokens, ChatML roles, EOS = <|endoftext|>."""
    return byte_bpe_tokenizer(
        CORPUS,
        320,
        chat_template,
        bos_token="<|im_start|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )


def make_model(vocab: int, seed: int = 0, **overrides: object) -> LlamaForCausalLM:
    """A 2-layer, 32-wide Llama with random weights (fp32, seeded), in eval mode."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        initializer_range=0.2,
        bos_token_id=1,
        eos_token_id=0,
        pad_token_id=0,
        **overrides,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny matrices run ~10x faster on one thread than on two busy cores (module-wide)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
