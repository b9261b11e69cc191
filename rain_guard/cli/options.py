"""Command-line options shared by the ``rain-guard`` sub-commands: SearchConfig, system message.

Every SearchConfig field is an option named after it (``t_max`` -> ``--t-max``, a switch
``use_similarity`` -> ``--use-similarity``/``--no-use-similarity``), with the field's
description and default as help, so a field added to SearchConfig is an option without more
code. A few fields also keep a shorter, older name (``--max-tokens``, ``--candidates``,
``--rollout-tokens``, ``--no-similarity``, ``--adaptive-budget``). An option left unset keeps
the SearchConfig default (the reference implementation's setting).
"""

from __future__ import annotations

import argparse
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rain_guard.errors import ConfigError
from rain_guard.search.config import SearchConfig

SHORT_FLAGS = {
    "max_new_tokens": "--max-tokens",
    "num_candidates": "--candidates",
    "rollout_max_tokens": "--rollout-tokens",
}
"""SearchConfig field -> the shorter option name it is best known by (listed first)."""
SWITCH_FLAGS = {
    "use_similarity": ("--no-similarity", False),
    "adaptive_commit": ("--adaptive-budget", True),
}
"""SearchConfig switch -> (an older one-way flag, the value that flag sets)."""
_OLD_DESTS = {"max_tokens": "max_new_tokens", "candidates": "num_candidates",
              "rollout_tokens": "rollout_max_tokens"}  # fmt: skip
_OLD_NEGATIONS = {"no_similarity": "use_similarity", "no_greedy_first": "adaptive_greedy_first",
                  "sampled_rollouts": "adaptive_greedy_rollout"}  # fmt: skip
"""Option names (argparse dests) of parsers that define their own search options."""


def add_search_options(
    parser: argparse.ArgumentParser, defaults: Mapping[str, Any] | None = None
) -> None:
    """Add one option per SearchConfig field; each leaves ``args.<field>`` None unless given.

    Args:
        parser: The sub-command's parser.
        defaults: Command defaults that differ from SearchConfig's (by field name); they are
            used when the option is not given, and shown in the help.
    """
    group = parser.add_argument_group("search settings (SearchConfig)")
    defaults = defaults or {}
    for name, info in SearchConfig.model_fields.items():
        shown = _shown(defaults.get(name, info.default))
        help_text = f"{info.description} (default: {shown})".replace("%", "%%")
        flags = [SHORT_FLAGS[name]] if name in SHORT_FLAGS else []
        flags.append("--" + name.replace("_", "-"))
        kind = _value_type(info.annotation)
        common = {"dest": name, "default": defaults.get(name), "help": help_text}
        if kind is bool:
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, **common)
            if name in SWITCH_FLAGS:
                _add_switch_flag(group, name, flags[-1], common["default"])
        elif kind is tuple:
            group.add_argument(*flags, type=int, nargs="+", metavar="N", **common)
        else:
            group.add_argument(*flags, type=kind, metavar=_METAVARS.get(kind, "X"), **common)


def _add_switch_flag(group: Any, name: str, flag: str, default: Any) -> None:
    """The older one-way flag of switch ``name`` (e.g. ``--no-similarity``)."""
    old, value = SWITCH_FLAGS[name]
    action = "store_true" if value else "store_false"
    same = flag if value else "--no-" + flag.removeprefix("--")
    group.add_argument(old, dest=name, action=action, default=default, help=f"same as {same}")


_METAVARS = {int: "N", float: "X", str: "TEXT"}


def _value_type(annotation: Any) -> type:
    """The Python type an option parses: int, float, str, bool, or tuple (of ints)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    origin = typing.get_origin(annotation)
    return origin if origin is not None else annotation


def _shown(value: Any) -> str:
    """A default as the help shows it: switches on/off, tuples space-separated."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    if value is None:
        return "none"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def config_from_args(args: argparse.Namespace) -> SearchConfig:
    """SearchConfig from the options a sub-command defined.

    Reads ``args.<field>`` for every SearchConfig field (``add_search_options``) and the
    older option names of parsers that define their own options (``--max-tokens`` as
    ``args.max_tokens``, ``--no-similarity`` as ``args.no_similarity``, ...).

    Raises:
        ConfigError: an option's value is out of range (the message names the field).
    """
    fields = {}
    for name in SearchConfig.model_fields:
        if getattr(args, name, None) is not None:
            fields[name] = getattr(args, name)
    for dest, name in _OLD_DESTS.items():
        if getattr(args, dest, None) is not None:
            fields.setdefault(name, getattr(args, dest))
    for dest, name in _OLD_NEGATIONS.items():
        if hasattr(args, dest):
            fields.setdefault(name, not getattr(args, dest))
    if "set_lengths" in fields:
        fields["set_lengths"] = tuple(fields["set_lengths"])
    return SearchConfig(**fields)


def flag_of(name: str) -> str:
    """The option that sets SearchConfig field ``name`` (its best-known name)."""
    return SHORT_FLAGS.get(name) or "--" + name.replace("_", "-")


def checked_config(args: argparse.Namespace) -> SearchConfig:
    """``config_from_args`` for a command line: its errors name the options, not the fields.

    Commands call it before loading a model, so a bad setting costs no load time.

    Raises:
        ConfigError: e.g. "invalid options: --t-min (6) must not exceed --t-max (3)".
    """
    try:
        return config_from_args(args)
    except ConfigError as exc:
        message = str(exc).replace("invalid SearchConfig", "invalid options", 1)
        for name in SearchConfig.model_fields:
            message = re.sub(rf"\b{name}\b", flag_of(name), message)
        raise ConfigError(message) from exc


def add_system_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--system TEXT`` and ``--system-file PATH`` (either one) as ``args.system``.

    A long system message (a few-shot preamble, a reference-length context for the bench) is
    easier to keep in a file than on the command line; the file is read when the options are
    parsed, so a missing or empty file stops the command before any model is loaded.
    """
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--system", default=None, metavar="TEXT", help="system message before the prompt (none)"
    )
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


def parse_criterion(text: str) -> str | dict[str, float]:
    """``--criterion``: one name, or a weighted mix ``'name=weight,name=weight'``.

    Raises:
        ConfigError: a mix item without a positive number as its weight.
    """
    if "=" not in text:
        return text.strip()
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        try:
            value = float(weight)
        except ValueError:
            value = float("nan")
        if not name.strip() or not value > 0:
            raise ConfigError(f"--criterion: {part!r} is not name=positive_weight")
        mix[name.strip()] = value
    return mix
