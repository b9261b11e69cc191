"""Merge ``rain-guard bench`` reports run side by side into one report.

On a machine with several cores, the bench's prompt sets can run as one process each, one per
core (``--threads 1`` each), which divides the wall time of a long benchmark by the number of
cores. Every process interleaves its arms per prompt, so its time ratios stay fair; this
module puts the answers back together and prints the report one process would have printed,
with the ratios and targets over all prompts:

    rain-guard bench --dataset xstest-safe --json x.json ... &
    rain-guard bench --dataset advbench --json a.json ... &
    wait; rain-guard bench-merge x.json a.json --json both.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from rain_guard.bench.aggregate import BENIGN
from rain_guard.bench.arms import ArmRun
from rain_guard.bench.report import ANSWERS, markdown, write_report
from rain_guard.errors import BenchReportError

# Settings that describe one process, not the benchmark: they may differ between reports
# (a report of a run that was stopped early merges too; its answer count says so).
PER_PROCESS = ("prompts", "process peak RSS", ANSWERS)
_RUN_FIELDS = frozenset(f.name for f in fields(ArmRun))


def load_report(path: str) -> tuple[list[ArmRun], dict[str, Any]]:
    """The answers and settings of one ``rain-guard bench --json`` report.

    Raises:
        BenchReportError: the file cannot be read or is not a bench report.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        runs = [_run(row) for row in data["runs"]]
        settings = dict(data["settings"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchReportError(f"cannot read bench report {path!r}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise BenchReportError(f"{path!r} is not a rain-guard bench report: {exc!r}") from None
    return runs, settings


def _run(row: dict[str, Any]) -> ArmRun:
    """An ``ArmRun`` from its JSON row (an untimed arm's ``null`` seconds become NaN)."""
    unknown = set(row) - _RUN_FIELDS
    if unknown:
        raise ValueError(f"unknown answer fields {sorted(unknown)}")
    seconds = row.get("seconds")
    return ArmRun(**{**row, "seconds": float("nan") if seconds is None else seconds})


def merge_reports(
    reports: Sequence[tuple[list[ArmRun], dict[str, Any]]], names: Sequence[str]
) -> tuple[list[ArmRun], dict[str, Any]]:
    """All answers of ``reports`` and their common settings.

    Args:
        reports: ``load_report`` results, two or more.
        names: A name per report (its path), for the settings and error messages.

    Raises:
        BenchReportError: the reports were made with other settings (the key is named), or two
            answer the same prompt with the same arm.
    """
    settings = [s for _, s in reports]
    _check_same_settings(settings, names)
    merged = dict(settings[0])
    for key in PER_PROCESS:
        merged[key] = "; ".join(str(s.get(key, "?")) for s in settings)
    merged["merged from"] = f"{len(reports)} reports, one process each: {', '.join(names)}"
    return _all_runs([runs for runs, _ in reports], names), merged


def _check_same_settings(settings: Sequence[dict[str, Any]], names: Sequence[str]) -> None:
    """Refuse reports whose settings differ in anything but ``PER_PROCESS``."""
    first = settings[0]
    for other, name in zip(settings[1:], names[1:], strict=True):
        for key in sorted((set(first) | set(other)) - set(PER_PROCESS)):
            if first.get(key) != other.get(key):
                raise BenchReportError(
                    f"cannot merge {names[0]!r} and {name!r}: setting {key!r} differs "
                    f"({first.get(key)!r} vs {other.get(key)!r})"
                )


def _all_runs(per_report: Sequence[list[ArmRun]], names: Sequence[str]) -> list[ArmRun]:
    """The answers of every report, refusing one (arm, prompt) answered twice."""
    runs: list[ArmRun] = []
    seen: dict[tuple[str, str, int], str] = {}
    for report_runs, name in zip(per_report, names, strict=True):
        for run in report_runs:
            key = (run.arm, run.dataset, run.index)
            if key in seen:
                raise BenchReportError(
                    f"{seen[key]!r} and {name!r} both answer {run.dataset} prompt {run.index} "
                    f"with arm {run.arm!r}"
                )
            seen[key] = name
            runs.append(run)
    return runs


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench-merge`` options to ``parser``."""
    parser.add_argument("reports", nargs="+", metavar="REPORT", help="bench --json files")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the merge here")
    parser.set_defaults(handler=cmd_bench_merge)


def cmd_bench_merge(args: argparse.Namespace) -> int:
    """Print the merged markdown report (and write its JSON with ``--json``)."""
    if len(args.reports) < 2:
        raise BenchReportError("bench-merge needs two or more reports")
    runs, settings = merge_reports([load_report(p) for p in args.reports], args.reports)
    print(markdown(runs, settings, BENIGN))
    if args.json:
        write_report(args.json, runs, settings, BENIGN)
    return 0
