"""Random-weight model names: recognised, and an unknown preset is a clear error."""

from __future__ import annotations

import pytest

from rain_guard.errors import ModelNotFoundError
from rain_guard.models.random import PRESETS, is_random_name
from rain_guard.models.resolve import load_model


def test_random_names_are_recognised_case_insensitively():
    assert is_random_name("random:llama-1b")
    assert is_random_name("Random:tiny")
    assert not is_random_name("randomorg/model")


def test_an_unknown_preset_names_the_known_ones():
    with pytest.raises(ModelNotFoundError, match="random:llama-8b") as info:
        load_model("random:llama-70b")
    assert "random:llama-70b" in str(info.value)


def test_presets_have_llama_shapes():
    for shape in PRESETS.values():
        assert shape["hidden_size"] % shape["num_attention_heads"] == 0
        assert shape["num_attention_heads"] % shape["num_key_value_heads"] == 0
