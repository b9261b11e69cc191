"""Command-line options become the SearchConfig the user asked for."""

from __future__ import annotations

import argparse

import pytest

from rain_guard.cli_config import config_from_args
from rain_guard.config import SearchConfig
from rain_guard.errors import ConfigError


def test_options_map_to_their_fields():
    args = argparse.Namespace(
        t_min=2, t_max=6, candidates=5, rollout_tokens=16, max_tokens=24, seed=3,
        no_similarity=True, set_lengths=[1, 3], no_greedy_first=True, sampled_rollouts=True,
    )  # fmt: skip
    config = config_from_args(args)
    assert (config.t_min, config.t_max, config.num_candidates) == (2, 6, 5)
    assert (config.rollout_max_tokens, config.max_new_tokens, config.seed) == (16, 24, 3)
    assert config.use_similarity is False
    assert config.adaptive_greedy_first is False
    assert config.adaptive_greedy_rollout is False
    assert config.set_lengths == (1, 3)


def test_options_a_command_lacks_or_leaves_unset_keep_the_reference_defaults():
    config = config_from_args(argparse.Namespace(t_max=9, max_seconds=None))
    default = SearchConfig()
    assert config.t_max == 9
    assert config.max_seconds is None
    assert config.model_copy(update={"t_max": default.t_max}) == default


def test_a_bad_value_names_the_field():
    with pytest.raises(ConfigError, match="t_min"):
        config_from_args(argparse.Namespace(t_min=-1))
