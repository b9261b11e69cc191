"""Fixtures shared by the backend tests on the tiny random Llama (``tiny_models``).

A test module that defines its own ``tokenizer`` or ``model`` (another template, another
size) overrides these.
"""

from __future__ import annotations

import pytest
from tiny_models import make_model, make_tokenizer
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    """The byte-level BPE of ``make_tokenizer`` with the ChatML template."""
    return make_tokenizer()


@pytest.fixture(scope="module")
def model(tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    """The tiny random Llama of ``make_model``, sized to ``tokenizer``."""
    return make_model(len(tokenizer))
