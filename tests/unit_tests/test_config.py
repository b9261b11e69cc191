"""SearchConfig: faithful defaults (the reference's numbers) and typed, named validation errors."""

from __future__ import annotations

import pytest

from rain_guard.errors import ConfigError, RainGuardError
from rain_guard.search.config import SearchConfig


def test_defaults_equal_the_reference():
    c = SearchConfig()
    assert c.t_min == 6
    assert c.t_max == 50
    assert c.v_threshold == 0.8
    assert c.c_puct == 2.0
    assert c.num_candidates == 10
    assert c.top_k == 15
    assert c.set_lengths == (1, 2, 4, 10)
    assert c.root_prior_mix == 0.75
    assert c.similarity_threshold == 0.95
    assert c.similarity_weight == 0.2
    assert c.use_similarity is True
    assert c.dynamic_node_addition is True
    assert c.sentence_boundaries == ",.?:;\n"


def test_every_setting_is_documented():
    for name, info in SearchConfig.model_fields.items():
        assert info.description, f"{name} has no description"


@pytest.mark.parametrize(("depth", "length"), [(0, 1), (1, 2), (2, 4), (3, 10), (4, 10), (100, 10)])
def test_set_length_by_depth(depth, length):
    assert SearchConfig().set_length(depth) == length


def test_set_length_with_custom_lengths():
    c = SearchConfig(set_lengths=(3,))
    assert [c.set_length(d) for d in range(4)] == [3, 3, 3, 3]
    c = SearchConfig(set_lengths=(2, 5))
    assert [c.set_length(d) for d in range(4)] == [2, 5, 5, 5]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"t_min": 7, "t_max": 5}, "t_min"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_new_tokens": -3}, "max_new_tokens"),
        ({"v_threshold": 1.5}, "v_threshold"),
        ({"v_threshold": -1.01}, "v_threshold"),
        ({"c_puct": -0.1}, "c_puct"),
        ({"num_candidates": 0}, "num_candidates"),
        ({"root_prior_mix": 1.2}, "root_prior_mix"),
        ({"similarity_weight": -0.2}, "similarity_weight"),
        ({"set_lengths": ()}, "set_lengths"),
        ({"set_lengths": (1, 0, 4)}, "set_lengths"),
        ({"temperature": 0.0}, "temperature"),
        ({"t_min": 0}, "t_min"),
        ({"max_seconds": 0.0}, "max_seconds"),
        ({"not_a_setting": 1}, "not_a_setting"),
        ({"tmin": 3}, "tmin"),
    ],
)
def test_bad_settings_raise_config_error_naming_the_field(kwargs, field):
    with pytest.raises(ConfigError) as info:
        SearchConfig(**kwargs)
    assert field in str(info.value)
    assert isinstance(info.value, RainGuardError)
    assert isinstance(info.value, ValueError)  # callers catching ValueError still work


def test_t_min_equal_t_max_is_allowed():
    c = SearchConfig(t_min=5, t_max=5)
    assert (c.t_min, c.t_max) == (5, 5)


def test_config_is_immutable():
    c = SearchConfig()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type
        c.t_min = 3
    assert c.t_min == 6


def test_model_copy_builds_a_modified_config():
    c = SearchConfig().model_copy(update={"t_max": 10, "t_min": 2})
    assert (c.t_min, c.t_max) == (2, 10)
    assert SearchConfig().t_max == 50


def test_model_copy_validates_like_the_constructor():
    with pytest.raises(ConfigError):
        SearchConfig().model_copy(update={"t_min": 100})
