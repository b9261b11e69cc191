"""Tests of rain_guard.eval.results: append-only JSONL that resumes after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rain_guard.eval import EvalItem, ResultsError, ResultsFile, record_key


def _rec(index: int, method: str = "rain", **extra: object) -> dict[str, object]:
    return {"dataset": "advbench", "index": index, "method": method, "answer": f"a{index}"} | extra


def _lines(path: Path) -> list[dict]:
    text = path.read_text("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_append_and_done_keys(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "sub" / "r.jsonl")
    assert results.done_keys() == set() and results.records() == []
    results.append(_rec(0))
    results.append(_rec(0, method="baseline", answer="üñí\u2028code"))
    assert results.done_keys() == {("advbench", 0, "rain"), ("advbench", 0, "baseline")}
    assert results.records()[1]["answer"] == "üñí\u2028code"


@pytest.mark.parametrize("cut", [1, 5, 20, -2])
def test_resume_after_truncated_last_line(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "r.jsonl"
    ResultsFile(path).append(_rec(0))
    ResultsFile(path).append(_rec(1))
    complete = path.read_bytes()
    partial = (json.dumps(_rec(2)) + "\n").encode()[:cut]
    path.write_bytes(complete + partial)  # a process killed while writing line 3

    rerun = ResultsFile(path)
    assert rerun.done_keys() == {("advbench", 0, "rain"), ("advbench", 1, "rain")}
    items = [EvalItem("advbench", i, f"p{i}", "dev") for i in range(4)]
    todo = rerun.pending(items, "rain")
    assert [i.index for i in todo] == [2, 3]
    for item in todo:
        rerun.append(_rec(item.index))
    rows = _lines(path)
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert len({record_key(r) for r in rows}) == len(rows)


def test_unterminated_complete_line_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_rec(0)) + "\n" + json.dumps(_rec(1)), "utf-8")
    results = ResultsFile(path)
    assert len(results.done_keys()) == 2
    results.append(_rec(2))
    assert [r["index"] for r in _lines(path)] == [0, 1, 2]


def test_errors_leave_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    results = ResultsFile(path)
    results.append(_rec(0))
    before = path.read_bytes()
    with pytest.raises(ResultsError, match="index"):
        results.append({"dataset": "a", "method": "m"})
    with pytest.raises(TypeError):
        results.append(_rec(1, answer=object()))
    assert path.read_bytes() == before
    path.write_bytes(before + b"{broken\n" + before)
    with pytest.raises(ResultsError, match=":2: corrupt"):
        ResultsFile(path).done_keys()
