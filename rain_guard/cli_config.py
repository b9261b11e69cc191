"""SearchConfig from command-line options, shared by every ``rain-guard`` sub-command.

Each sub-command defines only the options it needs; an option a command does not define, or
leaves at ``None``, keeps the SearchConfig default (the reference implementation's setting).
"""

from __future__ import annotations

import argparse

from rain_guard.config import SearchConfig

# option name (argparse dest) -> SearchConfig field
_OPTION_FIELDS = {
    "t_min": "t_min",
    "t_max": "t_max",
    "v_threshold": "v_threshold",
    "candidates": "num_candidates",
    "rollout_tokens": "rollout_max_tokens",
    "set_lengths": "set_lengths",
    "max_tokens": "max_new_tokens",
    "max_seconds": "max_seconds",
    "seed": "seed",
    "adaptive_commit": "adaptive_commit",
    "adaptive_min_iterations": "adaptive_min_iterations",
    "adaptive_value": "adaptive_value",
    "adaptive_margin": "adaptive_margin",
}


def config_from_args(args: argparse.Namespace) -> SearchConfig:
    """SearchConfig from the options a sub-command defined.

    Raises:
        ConfigError: an option's value is out of range (the message names the field).
    """
    fields = {
        field: getattr(args, option)
        for option, field in _OPTION_FIELDS.items()
        if getattr(args, option, None) is not None
    }
    if "set_lengths" in fields:
        fields["set_lengths"] = tuple(fields["set_lengths"])
    if hasattr(args, "no_similarity"):
        fields["use_similarity"] = not args.no_similarity
    if hasattr(args, "no_greedy_first"):
        fields["adaptive_greedy_first"] = not args.no_greedy_first
    if hasattr(args, "sampled_rollouts"):
        fields["adaptive_greedy_rollout"] = not args.sampled_rollouts
    return SearchConfig(**fields)
