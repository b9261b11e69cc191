"""Bench reports run side by side (one process per prompt set) merge into one report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rain_guard import BenchReportError
from rain_guard.bench.merge import load_report, merge_reports
from rain_guard.cli.app import main

FAST = ["--model", "fake", "--limit", "2", "--max-tokens", "4", "--t-min", "1", "--t-max", "2",
        "--candidates", "2", "--no-similarity", "--quiet", "--reference-count-only"]  # fmt: skip


def _bench(tmp_path, name: str, *options: str) -> str:
    path = str(tmp_path / f"{name}.json")
    assert main(["bench", *FAST, *options, "--json", path]) == 0
    return path


def _work(data: dict) -> dict:
    """Per group and arm: the exact counters (times differ between processes)."""
    keep = ("answer_tokens", "forward_calls", "tokens_processed", "evaluation_prompts")
    return {
        group: {arm: {k: t[k] for k in keep} for arm, t in arms.items()}
        for group, arms in data["totals"].items()
    }


def test_merged_report_counts_what_one_process_counts(tmp_path, capsys):
    both = _bench(tmp_path, "both", "--dataset", "xstest-safe", "--dataset", "advbench")
    safe = _bench(tmp_path, "safe", "--dataset", "xstest-safe")
    unsafe = _bench(tmp_path, "unsafe", "--dataset", "advbench")
    merged = str(tmp_path / "merged.json")
    capsys.readouterr()
    assert main(["bench-merge", safe, unsafe, "--json", merged]) == 0
    printed = capsys.readouterr().out
    one, two = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (both, merged))
    assert _work(two) == _work(one)
    assert two["decisions_identical"] is True
    work_targets = [t for t in two["targets"] if "(b)/(a)" in t["target"]]
    assert work_targets == [t for t in one["targets"] if "(b)/(a)" in t["target"]]
    assert two["settings"]["merged from"] == f"2 reports, one process each: {safe}, {unsafe}"
    assert "xstest-safe" in two["settings"]["prompts"] and "advbench" in two["settings"]["prompts"]
    assert "### all: ratios" in printed and "| (b)/(a) | not timed | not timed |" in printed


def test_untimed_arms_stay_untimed_after_a_round_trip(tmp_path):
    runs, _ = load_report(_bench(tmp_path, "safe", "--dataset", "xstest-safe"))
    ref = [r for r in runs if r.arm == "reference"]
    assert ref and all(r.seconds != r.seconds for r in ref)  # NaN, not 0
    assert all(r.seconds > 0 for r in runs if r.arm != "reference")


def test_reports_made_with_other_settings_are_refused(tmp_path, capsys):
    safe = _bench(tmp_path, "safe", "--dataset", "xstest-safe")
    other = _bench(tmp_path, "other", "--dataset", "advbench", "--t-max", "3")
    capsys.readouterr()
    assert main(["bench-merge", safe, other]) == 2
    err = capsys.readouterr().err
    assert "setting 'search' differs" in err and "t_max 2" in err and "t_max 3" in err


def test_the_same_answer_twice_is_refused(tmp_path):
    safe = _bench(tmp_path, "safe", "--dataset", "xstest-safe")
    report = load_report(safe)
    with pytest.raises(BenchReportError, match="both answer xstest-safe prompt"):
        merge_reports([report, report], [safe, "copy.json"])


def test_what_is_not_a_report_is_refused_by_name(tmp_path, capsys):
    empty = tmp_path / "empty.json"
    empty.write_text("{}", encoding="utf-8")
    with pytest.raises(BenchReportError, match="empty.json' is not a rain-guard bench report"):
        load_report(str(empty))
    with pytest.raises(BenchReportError, match="cannot read bench report .*missing.json"):
        load_report(str(tmp_path / "missing.json"))
    assert main(["bench-merge", str(empty)]) == 2
    assert "two or more reports" in capsys.readouterr().err


def test_prompt_shards_merge_into_what_one_process_counts(tmp_path):
    whole = _bench(tmp_path, "whole", "--dataset", "xstest-safe")  # FAST: --limit 2
    first = _bench(tmp_path, "first", "--dataset", "xstest-safe", "--limit", "1")
    rest = _bench(tmp_path, "rest", "--dataset", "xstest-safe", "--skip", "1", "--limit", "1")
    merged = str(tmp_path / "merged.json")
    assert main(["bench-merge", first, rest, "--json", merged]) == 0
    one, two = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (whole, merged))
    assert _work(two) == _work(one)
    assert len({r["index"] for r in two["runs"]}) == 2
    assert two["settings"]["prompts"] == (
        "1 (xstest-safe, dev split, first 1 each); 1 (xstest-safe, dev split, prompts 2-2 each)"
    )


@pytest.mark.parametrize("options", [["--skip", "-1"], ["--limit", "0"]])
def test_bad_prompt_ranges_are_refused_by_name(options, capsys):
    assert main(["bench", *FAST, *options]) == 2
    assert "need --limit >= 1 and --skip >= 0" in capsys.readouterr().err


def test_a_run_stopped_midway_keeps_the_answers_it_finished(tmp_path, monkeypatch):
    from rain_guard.bench.runner import Bench

    finish = Bench.run_slot  # one arm's answer, or (a) and (b) from one search
    slots, finished = [], []

    def stopped_at_the_third(self, arm, item):
        slots.append(arm)
        if len(slots) == 3:
            raise KeyboardInterrupt  # what Ctrl-C or a kill leaves behind
        runs = finish(self, arm, item)
        finished.extend(r.arm for r in runs)
        return runs

    monkeypatch.setattr(Bench, "run_slot", stopped_at_the_third)
    path = tmp_path / "partial.json"
    with pytest.raises(KeyboardInterrupt):
        main(["bench", *FAST, "--dataset", "xstest-safe", "--json", str(path)])
    runs, settings = load_report(str(path))
    assert [r.arm for r in runs] == finished and len(finished) >= 2
    assert settings["answers"] == f"{len(finished)} of 8 (incomplete)"  # 2 prompts x 4 arms
    assert not (tmp_path / "partial.json.tmp").exists()
    monkeypatch.setattr(Bench, "run_slot", finish)
    whole = _bench(tmp_path, "whole", "--dataset", "xstest-safe")
    assert load_report(whole)[1]["answers"] == "8 of 8"
