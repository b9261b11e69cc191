"""Command-line options become the SearchConfig the user asked for."""

from __future__ import annotations

import argparse

import pytest

from rain_guard.cli.app import messages_from_args
from rain_guard.cli.options import add_system_options, config_from_args
from rain_guard.errors import ConfigError
from rain_guard.messages import prompt_turns
from rain_guard.search.config import SearchConfig


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


def _system_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rain-guard")
    add_system_options(parser)
    return parser


def test_system_message_comes_from_text_or_file(tmp_path):
    preamble = tmp_path / "system.txt"
    preamble.write_text("You are careful.\nAnswer briefly.\n", encoding="utf-8")
    parser = _system_parser()
    assert parser.parse_args([]).system is None
    assert parser.parse_args(["--system", "Be kind."]).system == "Be kind."
    assert parser.parse_args(["--system-file", str(preamble)]).system == (
        "You are careful.\nAnswer briefly."
    )


def test_the_system_message_goes_before_the_prompt():
    args = _system_parser().parse_args(["--system", "Be kind."])
    args.prompt = "Hi"
    assert messages_from_args(args) == [("system", "Be kind."), ("user", "Hi")]
    assert prompt_turns("Hi") == prompt_turns("Hi", "") == [("user", "Hi")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "cannot read"), ("  \n", "is empty"), (b"\xff\xfe\x00bad", "cannot read")],
)
def test_an_unusable_system_file_is_refused_before_any_work(tmp_path, capsys, content, expected):
    path = tmp_path / "system.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        _system_parser().parse_args(["--system-file", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--system-file" in err and expected in err and "system.txt" in err


def test_system_text_and_file_are_exclusive(tmp_path, capsys):
    path = tmp_path / "system.txt"
    path.write_text("Be kind.", encoding="utf-8")
    with pytest.raises(SystemExit):
        _system_parser().parse_args(["--system", "x", "--system-file", str(path)])
    assert "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["bench"], ["generate", "Hi"], ["compare", "Hi"]])
def test_commands_take_the_system_message_from_a_file(tmp_path, command):
    from rain_guard.cli.app import build_parser

    path = tmp_path / "preamble.txt"
    path.write_text("Conversation between a human and an assistant.\n", encoding="utf-8")
    args = build_parser().parse_args([*command, "--system-file", str(path)])
    assert args.system == "Conversation between a human and an assistant."


# --- settings are checked before the model loads, and errors name the options ----------------


@pytest.mark.parametrize("command", ["generate", "compare"])
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--t-max", "3"], "--t-min (6) must not exceed --t-max (3)"),
        (["--max-tokens", "0"], "--max-tokens: Input should be greater than or equal to 1"),
        (["--v-threshold", "2"], "--v-threshold: Input should be less than or equal to 1"),
    ],
)
def test_a_bad_option_is_named_before_the_model_loads(
    monkeypatch, capsys, command, options, message
):
    from rain_guard.cli import app

    def no_load(args):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(app, "_load", no_load)
    assert app.main([command, "hi", "--model", "fake", *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "SearchConfig" not in err


def test_device_and_dtype_reach_the_loader(monkeypatch, capsys):
    from rain_guard.backends import loading
    from rain_guard.backends.fake import FakeBackend
    from rain_guard.cli import app

    seen = {}

    def load(model, **kwargs):
        seen.update(kwargs, model=model)
        return FakeBackend()

    monkeypatch.setattr(loading, "load_backend", load)
    argv = ["generate", "hi", "--model", "x", "--device", "cuda:1", "--dtype", "bfloat16"]
    assert app.main([*argv, "--max-tokens", "4", "--no-similarity", "--quiet"]) == 0
    assert seen == {"model": "x", "device": "cuda:1", "dtype": "bfloat16", "num_threads": None}


def test_help_explains_every_option_and_shows_the_defaults(capsys):
    from rain_guard.cli.app import build_parser

    parser = build_parser()
    generate = parser._subparsers._group_actions[0].choices["generate"]
    assert all(action.help for action in generate._actions)
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for shown in (
        "--model MODEL model to answer with",
        "(default: smollm2)",
        "--t-min N Inner iterations before a commit may happen (T_m). (default: 6)",
        "--seed N Seed of every random draw in the search: same seed, same answer. (default: 0)",
        "(default: harm_classifier for the embedded smollm2",
        "--max-tokens N, --max-new-tokens N Budget: committed answer tokens at most. (default: 64)",
    ):
        assert shown in help_text


def _options_without_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    """Each option or positional of ``parser`` and its sub-commands that has no help text."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _options_without_help(sub, f"{path} {name}")
        elif not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


@pytest.mark.parametrize("command", ["generate", "compare", "eval", "bench"])
def test_every_option_of_a_command_has_help(command, capsys):
    from rain_guard.cli.app import build_parser

    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--help"])  # a lazy sub-command adds its options here
    sub = parser._subparsers._group_actions[0].choices[command]
    assert _options_without_help(sub, command) == []


def test_bench_takes_a_t_budget_by_commit():
    from rain_guard.cli.app import build_parser

    args = build_parser().parse_args(["bench", "--t-max-schedule", "50", "50", "12"])
    config = config_from_args(args)
    assert config.t_max_schedule == (50, 50, 12)
    assert [config.t_max_at(c) for c in range(4)] == [50, 50, 12, 12]
    assert config.t_min_schedule == ()


def test_bench_and_eval_take_stop_when_decided():
    from rain_guard.cli.app import build_parser

    parser = build_parser()
    assert not config_from_args(parser.parse_args(["bench"])).stop_when_decided
    assert config_from_args(parser.parse_args(["bench", "--stop-when-decided"])).stop_when_decided
    run = ["eval", "run", "--out", "x.jsonl", "--stop-when-decided"]
    assert config_from_args(parser.parse_args(run)).stop_when_decided
