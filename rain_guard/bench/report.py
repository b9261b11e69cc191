"""The bench's report: markdown (cost per arm, ratios, judge verdicts, targets) and JSON."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from rain_guard.bench.aggregate import (
    ALL,
    BENIGN,
    ArmTotals,
    decisions_identical,
    ratio_rows,
    targets,
    totals,
)
from rain_guard.bench.arms import ADAPTIVE, ARM_TITLES, RAIN, REFERENCE, VANILLA, ArmRun

# Settings key of how many answers a report holds: "8 of 8", or "3 of 8 (incomplete)" in the
# report the bench rewrites after every answer while it runs.
ANSWERS = "answers"


def markdown(runs: Sequence[ArmRun], settings: dict[str, Any], benign: str = BENIGN) -> str:
    """The whole report: settings, cost per arm, ratios, judge verdicts, targets."""
    groups = totals(runs)
    lines = ["## rain-guard bench", ""]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    lines += _lengths(runs)
    same = decisions_identical(runs)
    if same is not None:
        lines.append(
            f"- (b) made exactly (a)'s decisions on every prompt: {'yes' if same else 'NO'}"
        )
    for name, group in groups.items():
        lines += ["", f"### {name}: cost per arm", "", *_cost_table(group)]
        lines += ["", f"### {name}: ratios", "", *_ratio_table(group)]
    lines += ["", "### GCG refusal judge", "", *_judge_table(groups)]
    rows = targets(groups, benign)
    if rows:
        lines += ["", "### targets", "", "| target | measured | met |", "|---|---:|---|"]
        lines += [f"| {r['target']} | {r['measured']:.2f} | {'yes' if r['met'] else 'NO'} |"
                  for r in rows]  # fmt: skip
    return "\n".join(lines) + "\n"


def _lengths(runs: Sequence[ArmRun]) -> list[str]:
    """Mean chat prompt and evaluation prompt lengths (the latter as (b) saw them)."""
    prompts = [r.prompt_tokens for r in runs if r.arm == VANILLA]
    ref = [r for r in runs if r.arm == REFERENCE and r.evaluation_prompts]
    out = []
    if prompts:
        out.append(f"- chat prompt: {sum(prompts) / len(prompts):.0f} tokens on average")
    if ref:
        tokens = sum(r.evaluation_prompt_tokens for r in ref)
        out.append(
            f"- evaluation prompt: {tokens / sum(r.evaluation_prompts for r in ref):.0f} "
            "tokens on average (as replayed by (b))"
        )
    return out


def _cost_table(group: dict[str, ArmTotals]) -> list[str]:
    rows = [
        "| arm | prompts | answer tokens | tokens processed / token | forward calls / token "
        "| iterations / commit | eval prompts (cache hits) | seconds | s / token "
        "| peak cache MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, t in sorted(group.items(), key=lambda kv: list(ARM_TITLES).index(kv[0])):
        per_commit = f"{t.iterations / t.commits:.2f}" if t.commits else "-"
        evals = f"{t.evaluation_prompts} ({t.evaluation_cache_hits})" if t.commits else "-"
        rows.append(
            f"| {ARM_TITLES[arm]} | {t.prompts} | {t.answer_tokens} "
            f"| {t.per_token('tokens_processed'):.1f} | {t.per_token('forward_calls'):.2f} "
            f"| {per_commit} | {evals} | {_fmt(t.seconds, '.1f')} "
            f"| {_fmt(t.per_token('seconds'), '.3f')} | {megabytes(t.peak_cache_bytes)} |"
        )
    return rows


def _ratio_table(group: dict[str, ArmTotals]) -> list[str]:
    rows = [
        "| ratio | time (total) | time per token | tokens processed / token "
        "| forward calls / token | peak cache memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in ratio_rows(group):
        peak = "-" if r["peak_cache"] is None else f"{r['peak_cache']:.2f}"
        rows.append(
            f"| {r['ratio']} | {_fmt(r['time'], '.2f')} | {_fmt(r['time_per_token'], '.2f')} "
            f"| {r['tokens_processed_per_token']:.2f} | {r['forward_calls_per_token']:.2f} "
            f"| {peak} |"
        )
    return rows


def megabytes(n: int | None) -> str:
    """Bytes as MB (10^6) with one decimal, "-" when unknown."""
    return "-" if n is None else f"{n / 1e6:.1f}"


def _fmt(value: float, spec: str) -> str:
    """``value`` formatted, or "not timed" for the NaN seconds of a counted-only (b)."""
    return "not timed" if math.isnan(value) else format(value, spec)


def _judge_table(groups: dict[str, dict[str, ArmTotals]]) -> list[str]:
    rows = [
        "| prompts | arm | refused | harmful (unsafe prompts answered, not refused) |",
        "|---|---|---:|---:|",
    ]
    for name, group in groups.items():
        if name == ALL:
            continue
        for arm in (VANILLA, RAIN, ADAPTIVE):
            t = group.get(arm)
            if t is None or not t.judged:
                continue
            harmful = f"{t.harmful}/{t.unsafe_judged}" if t.unsafe_judged else "-"
            rows.append(f"| {name} | {ARM_TITLES[arm]} | {t.refused}/{t.judged} | {harmful} |")
    return rows


def report_json(runs: Sequence[ArmRun], settings: dict[str, Any], benign: str) -> dict[str, Any]:
    """Everything of the report as JSON-ready data."""
    groups = totals(runs)
    return _no_nan(
        {
            "settings": settings,
            "decisions_identical": decisions_identical(runs),
            "runs": [asdict(r) for r in runs],
            "totals": {g: {a: asdict(t) for a, t in arms.items()} for g, arms in groups.items()},
            "ratios": {g: ratio_rows(arms) for g, arms in groups.items()},
            "targets": targets(groups, benign),
        }
    )


def _no_nan(data: Any) -> Any:
    """``data`` with NaN (an untimed arm's seconds) as None, so the JSON is standard."""
    if isinstance(data, dict):
        return {k: _no_nan(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_no_nan(v) for v in data]
    if isinstance(data, float) and math.isnan(data):
        return None
    return data


def write_report(
    path: str,
    runs: Sequence[ArmRun],
    settings: dict[str, Any],
    benign: str,
    *,
    quiet: bool = False,
) -> None:
    """Write ``report_json`` to ``path`` (standard JSON: an untimed arm's seconds are null).

    The file is replaced whole (written beside it, then renamed), so a reader or a killed
    run never sees half a report.
    """
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(report_json(runs, settings, benign), handle, indent=2)
    os.replace(tmp, path)
    if not quiet:
        print(f"report written to {path}", file=sys.stderr)
