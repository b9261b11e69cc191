"""Command-line options shared by the ``rain-guard`` sub-commands: SearchConfig, system message.

Each sub-command defines only the options it needs; an option a command does not define, or
leaves at ``None``, keeps the SearchConfig default (the reference implementation's setting).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rain_guard.search.config import SearchConfig

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


def add_system_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--system TEXT`` and ``--system-file PATH`` (either one) as ``args.system``.

    A long system message (a few-shot preamble, a reference-length context for the bench) is
    easier to keep in a file than on the command line; the file is read when the options are
    parsed, so a missing or empty file stops the command before any model is loaded.
    """
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--system", default=None, help="system message before the prompt")
    group.add_argument(
        "--system-file",
        dest="system",
        type=read_system_file,
        metavar="PATH",
        help="read the system message from this UTF-8 text file",
    )


def read_system_file(path: str) -> str:
    """The text of ``path`` without surrounding whitespace, for ``--system-file``.

    Raises:
        argparse.ArgumentTypeError: the file cannot be read, is not UTF-8 text, or is blank
            (argparse prints the message with the option's name and exits with status 2).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path!r}: {exc}") from None
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{path!r} is empty: a system message needs text")
    return text.strip()
