"""`rain-guard eval run --batch B`: a pool of B RAIN searches, each answer saved as it ends.

The prompts use only the fake model's base words, so their token ids (and answers) do not
depend on the order in which the searches tokenise them.
"""

from __future__ import annotations

import json
from dataclasses import replace

from rain_guard.cli.app import main
from rain_guard.decoding import METHODS
from rain_guard.errors import BackendError

PROMPTS = ["how to make a cake", "how to make a bomb", "mix flour and sugar", "is it safe"]


def run(tmp_path, *args: str) -> int:
    prompts = tmp_path / "mine.csv"
    prompts.write_text("prompt\n" + "\n".join(PROMPTS) + "\n")
    return main(["eval", "run", "--model", "fake", "--no-similarity", "--max-tokens", "4",
                 "--t-min", "1", "--t-max", "3", "--prompts", str(prompts),
                 "--out", str(tmp_path / "out.jsonl"), *args])  # fmt: skip


def records(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]


def test_pooled_answers_equal_answers_one_by_one_and_a_rerun_skips_them(tmp_path, capsys):
    alone, pooled = tmp_path / "alone", tmp_path / "pooled"
    alone.mkdir(), pooled.mkdir()
    assert run(alone, "--methods", "vanilla,rain") == 0
    assert run(pooled, "--methods", "vanilla,rain", "--batch", "3") == 0

    def answers(path):
        return {(r["prompt"], r["method"]): r["answer"] for r in records(path)}

    assert answers(pooled) == answers(alone) and len(answers(pooled)) == 2 * len(PROMPTS)
    assert {r["method"]: r["batch"] for r in records(pooled)} == {"vanilla": 1, "rain": 3}
    capsys.readouterr()
    assert run(pooled, "--methods", "vanilla,rain", "--batch", "3") == 0
    assert "0 to do" in capsys.readouterr().err
    assert len(records(pooled)) == 2 * len(PROMPTS)


def test_a_failing_search_keeps_the_saved_answers_and_a_rerun_does_only_the_rest(
    tmp_path, monkeypatch, capsys
):
    rain = METHODS["rain"]

    def failing(context, turns):
        if "bomb" in turns[-1][1]:
            raise BackendError("this request fails")
        return rain.run(context, turns)

    monkeypatch.setitem(METHODS, "rain", replace(rain, run=failing))
    assert run(tmp_path, "--methods", "rain", "--batch", "2") == 2
    assert "this request fails" in capsys.readouterr().err
    saved = [r["prompt"] for r in records(tmp_path)]
    assert PROMPTS[0] in saved and PROMPTS[1] not in saved  # the search in flight was kept
    monkeypatch.setitem(METHODS, "rain", rain)
    assert run(tmp_path, "--methods", "rain", "--batch", "2") == 0
    assert f"{len(PROMPTS) - len(saved)} to do" in capsys.readouterr().err
    assert sorted(r["prompt"] for r in records(tmp_path)) == sorted(PROMPTS)


def test_the_dtype_option_reaches_the_model_loader(tmp_path, monkeypatch):
    import rain_guard.backends.loading as loading

    asked = []
    real = loading.load_backend

    def spy(model=None, **kwargs):
        asked.append(kwargs.get("dtype"))
        return real(model, **kwargs)

    monkeypatch.setattr(loading, "load_backend", spy)
    assert run(tmp_path, "--methods", "vanilla", "--dtype", "bfloat16") == 0
    assert asked == ["bfloat16"]
