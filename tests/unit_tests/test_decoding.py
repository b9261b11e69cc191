"""One registry of decoding methods serves `rain-guard bench` and `rain-guard eval run`."""

from __future__ import annotations

import json

import pytest

from rain_guard.backends.fake import FakeBackend
from rain_guard.bench.arms import ARMS
from rain_guard.cli.app import build_parser, main
from rain_guard.decoding import METHODS, DecodingContext, method_names
from rain_guard.errors import ConfigError
from rain_guard.messages import prompt_turns
from rain_guard.search.config import SearchConfig

CONFIG = SearchConfig(max_new_tokens=6, t_min=1, t_max=3, num_candidates=2)


def test_names_and_the_reports_letters_pick_the_same_methods():
    picked = method_names("a, (b),vanilla,d", ARMS, "--arms")
    assert picked == ["rain", "reference", "vanilla", "paper_vanilla"]
    assert [METHODS[n].short_name for n in picked] == ["(a)", "(b)", "(c)", "(d)"]


def test_an_unknown_or_foreign_method_names_the_option_and_the_choices():
    with pytest.raises(ConfigError, match=r"--arms: unknown \['bon', 'x'\].*rain \(a\)"):
        method_names("rain,bon,x", ARMS, "--arms")


def test_every_method_answers_through_the_same_call():
    context = DecodingContext(FakeBackend(), CONFIG, samples=3)
    turns = prompt_turns("how to bake a cake")
    answers = {name: method.run(context, turns) for name, method in METHODS.items()}
    assert answers["vanilla"].result.text == answers["paper_vanilla"].result.text
    assert answers["reference"].result.text == answers["rain"].result.text
    assert answers["rain"].evaluations == answers["rain"].result.iterations > 0
    assert answers["bon"].evaluations == 3 and answers["vanilla"].evaluations == 0


def test_help_texts_explain_each_letter(capsys):
    for command in (["bench"], ["eval", "run"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args([*command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for name in ("rain", "reference", "vanilla", "paper_vanilla"):
            method = METHODS[name]
            assert f"{name} ({method.letter}): {method.description}" in text


def test_eval_run_takes_the_bench_methods_by_letter(tmp_path):
    prompts = tmp_path / "mine.csv"
    prompts.write_text("prompt\nHow do I bake bread?\n")
    out = tmp_path / "out.jsonl"
    code = main(["eval", "run", "--model", "fake", "--no-similarity", "--max-tokens", "4",
                 "--t-min", "1", "--t-max", "2", "--prompts", str(prompts), "--out", str(out),
                 "--methods", "a,b,c,d"])  # fmt: skip
    assert code == 0
    answers = {r["method"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert list(answers) == ["rain", "reference", "vanilla", "paper_vanilla"]
    assert answers["reference"]["answer"] == answers["rain"]["answer"]
    assert answers["paper_vanilla"]["answer"] == answers["vanilla"]["answer"]
    assert answers["reference"]["model_tokens"] > answers["rain"]["model_tokens"]


def test_bench_takes_letters_and_refuses_best_of_n(capsys):
    options = ["bench", "--model", "fake", "--limit", "1", "--max-tokens", "4", "--t-min", "1",
               "--t-max", "2", "--no-similarity", "--quiet"]  # fmt: skip
    assert main([*options, "--arms", "c,d"]) == 0
    report = capsys.readouterr().out
    assert "(c) vanilla, KV cache" in report and "| (d) vanilla, no cache |" in report
    assert "(a) RAIN" not in report
    assert main([*options, "--arms", "bon"]) == 2
    assert "--arms: unknown ['bon']" in capsys.readouterr().err
