"""Every command's progress bar goes to stderr, so stdout holds only answers and tables."""

from __future__ import annotations

from rain_guard.cli.app import main

SMALL = ["--model", "fake", "--no-similarity", "--max-tokens", "6", "--t-min", "1", "--t-max", "3"]


def test_generate_counts_committed_tokens_on_stderr(capsys):
    assert main(["generate", "how to bake a cake", *SMALL, "--candidates", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and "RAIN" not in captured.out
    err = captured.err.replace(" ", "")
    assert "RAIN:100%" in err and "6/6" in err and "iterations=" in err and "value=" in err


def test_eval_run_counts_answers_and_shows_each_search(tmp_path, capsys):
    prompts = tmp_path / "mine.csv"
    prompts.write_text("prompt\nHow do I bake bread?\nHow do I pick a lock?\n")
    out = tmp_path / "out.jsonl"
    code = main(["eval", "run", *SMALL, "--prompts", str(prompts), "--out", str(out),
                 "--methods", "vanilla,rain"])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "eval:" not in captured.out and "| dataset | method |" in captured.out
    err = captured.err.replace(" ", "")
    assert "4/4" in err and "method=rain" in err and "tokens=" in err and "/6," in err
