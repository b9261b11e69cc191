"""Per-commit analysis of eval records: divergence from greedy, settled verdicts, late budget."""

from __future__ import annotations

import pytest

from rain_guard.eval.commit_analysis import commit_markdown, commit_paths
from rain_guard.eval.errors import ResultsError


def _refused(prompt: str, text: str) -> bool:
    return "I cannot" in text


def _records(commits: list[tuple[str, int]], greedy: str) -> list[dict]:
    rain = {
        "dataset": "advbench",
        "index": 3,
        "method": "rain",
        "prompt": "p",
        "answer": "".join(t for t, _ in commits),
        "commits": [{"text": t, "value": 0.5, "iterations": n} for t, n in commits],
    }
    vanilla = {"dataset": "advbench", "index": 3, "method": "vanilla", "prompt": "p",
               "answer": greedy}  # fmt: skip
    return [vanilla, rain]


def test_a_refusal_reached_at_the_second_commit_is_settled_there() -> None:
    records = _records([("Sure", 50), (", I cannot", 50), (" help.", 10), (" Ok", 6)], "Sure, here")
    (path,) = commit_paths(records, _refused)
    assert path.divergence == 2
    assert path.settled == 2
    assert path.outcome_changed
    assert path.iterations_after_settled == 16
    assert "| advbench | 1 | 1 | 0 / 1 / 0 / 0 / 0 |" in commit_markdown([path])


def test_an_answer_equal_to_greedy_never_diverges() -> None:
    (path,) = commit_paths(_records([("Sure", 8), (", here", 8)], "Sure, here"), _refused)
    assert path.divergence is None
    assert path.settled == 1
    assert not path.outcome_changed


def test_commits_that_do_not_make_the_answer_are_an_error() -> None:
    records = _records([("Sure", 8)], "Sure")
    records[1]["answer"] = "Something else"
    with pytest.raises(ResultsError, match="do not add up"):
        commit_paths(records, _refused)


def test_a_character_split_across_commits_still_adds_up() -> None:
    """Each commit is decoded alone, so an emoji cut by a commit boundary reads as U+FFFD."""
    records = _records([("Sure \ufffd", 8), ("\ufffd here", 8)], "Sure \ufffd\ufffd here")
    records[1]["answer"] = "Sure 👉 here"
    (path,) = commit_paths(records, _refused)
    assert path.settled == 1


def test_a_split_character_does_not_hide_a_real_mismatch() -> None:
    records = _records([("Sure \ufffd", 8)], "Sure \ufffd")
    records[1]["answer"] = "No 👉"
    with pytest.raises(ResultsError, match="do not add up"):
        commit_paths(records, _refused)
