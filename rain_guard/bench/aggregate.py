"""Sums of the bench's runs per prompt set and arm, the ratios between arms, the targets.

Costs are per committed (answer) token; time ratios compare summed wall times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rain_guard.bench.arms import (
    ADAPTIVE,
    PAPER_VANILLA,
    RAIN,
    REFERENCE,
    VANILLA,
    ArmRun,
    short_name,
)

# The prompt set whose adaptive/(c) ratio the benign-prompt target reads.
BENIGN = "xstest-safe"
PAPER_TIME_RATIO = 3.78  # RAIN / vanilla, LLaMA-2 70B (the paper's smallest overhead)
ALL = "all"


@dataclass
class ArmTotals:
    """Sums of one arm's runs over a group of prompts (the cache peak: their largest)."""

    prompts: int = 0
    answer_tokens: int = 0
    seconds: float = 0.0
    forward_calls: int = 0
    tokens_processed: int = 0
    evaluation_prompts: int = 0
    evaluation_cache_hits: int = 0
    prefix_tokens_reused: int = 0
    iterations: int = 0
    commits: int = 0
    refused: int = 0
    judged: int = 0
    harmful: int = 0
    unsafe_judged: int = 0
    peak_cache_bytes: int | None = None  # the most over the prompts, not a sum

    def add(self, run: ArmRun) -> None:
        self.prompts += 1
        if run.peak_cache_bytes is not None:
            self.peak_cache_bytes = max(self.peak_cache_bytes or 0, run.peak_cache_bytes)
        for name in (
            "answer_tokens",
            "seconds",
            "forward_calls",
            "tokens_processed",
            "evaluation_prompts",
            "evaluation_cache_hits",
            "prefix_tokens_reused",
            "iterations",
            "commits",
        ):
            setattr(self, name, getattr(self, name) + getattr(run, name))
        if run.refused is not None:
            self.judged += 1
            self.refused += int(run.refused)
            if run.label == "unsafe":
                self.unsafe_judged += 1
                self.harmful += int(not run.refused and bool(run.text.strip()))

    def per_token(self, name: str) -> float:
        """``name`` per committed answer token (the sum over prompts, divided)."""
        return getattr(self, name) / max(1, self.answer_tokens)


def totals(runs: Sequence[ArmRun]) -> dict[str, dict[str, ArmTotals]]:
    """Group ("all" and each dataset) -> arm -> totals."""
    out: dict[str, dict[str, ArmTotals]] = {}
    for run in runs:
        for group in (ALL, run.dataset):
            out.setdefault(group, {}).setdefault(run.arm, ArmTotals()).add(run)
    return out


RATIOS: tuple[tuple[str, str], ...] = (
    (RAIN, VANILLA),
    (RAIN, PAPER_VANILLA),
    (REFERENCE, RAIN),
    (PAPER_VANILLA, VANILLA),
    (ADAPTIVE, VANILLA),
    (ADAPTIVE, PAPER_VANILLA),
    (ADAPTIVE, RAIN),
)


def ratio_rows(group: dict[str, ArmTotals]) -> list[dict[str, Any]]:
    """Ratios between arms in ``group``: time (total, per token), work per token, cache peak."""
    rows = []
    for num, den in RATIOS:
        a, b = group.get(num), group.get(den)
        if a is None or b is None:
            continue
        rows.append(
            {
                "ratio": f"{short_name(num)}/{short_name(den)}",
                "time": _div(a.seconds, b.seconds),
                "time_per_token": _div(a.per_token("seconds"), b.per_token("seconds")),
                "tokens_processed_per_token": _div(
                    a.per_token("tokens_processed"), b.per_token("tokens_processed")
                ),
                "forward_calls_per_token": _div(
                    a.per_token("forward_calls"), b.per_token("forward_calls")
                ),
                "peak_cache": _peak_ratio(a.peak_cache_bytes, b.peak_cache_bytes),
            }
        )
    return rows


def _peak_ratio(a: int | None, b: int | None) -> float | None:
    """Ratio of two cache peaks; None when either is unknown or the second is 0 (no cache)."""
    return None if a is None or not b else a / b


def decisions_identical(runs: Sequence[ArmRun]) -> bool | None:
    """Whether (b) committed exactly (a)'s token sets on every prompt (None: not both run)."""
    by_key: dict[tuple[str, int], dict[str, ArmRun]] = {}
    for run in runs:
        by_key.setdefault((run.dataset, run.index), {})[run.arm] = run
    pairs = [(v[RAIN], v[REFERENCE]) for v in by_key.values() if RAIN in v and REFERENCE in v]
    if not pairs:
        return None
    return all(a.decisions == b.decisions and a.iterations == b.iterations for a, b in pairs)


def targets(groups: dict[str, dict[str, ArmTotals]], benign: str) -> list[dict[str, Any]]:
    """The performance targets (docs/performance.md), each with its measured value."""
    rows = []
    every = groups.get(ALL, {})
    rain, ref = every.get(RAIN), every.get(REFERENCE)
    if rain and ref:
        t = _div(ref.per_token("tokens_processed"), rain.per_token("tokens_processed"))
        f = _div(ref.per_token("forward_calls"), rain.per_token("forward_calls"))
        rows.append(_target("tokens processed per token, (b)/(a) >= 30", t, t >= 30))
        rows.append(_target("forward calls per token, (b)/(a) >= 5", f, f >= 5))
    # Time per answer token: an arm whose answer ends early (EOS) is not credited for it.
    paper = every.get(PAPER_VANILLA)
    if rain and paper:
        r = _div(rain.per_token("seconds"), paper.per_token("seconds"))
        name = f"time per token (a)/(d) < {PAPER_TIME_RATIO} (paper)"
        rows.append(_target(name, r, r < PAPER_TIME_RATIO))
    group = groups.get(benign, {})
    adaptive, vanilla = group.get(ADAPTIVE), group.get(VANILLA)
    if adaptive and vanilla:
        r = _div(adaptive.per_token("seconds"), vanilla.per_token("seconds"))
        rows.append(_target(f"time per token adaptive/(c) <= 2 on {benign}", r, r <= 2))
    return rows


def _target(name: str, value: float, met: bool) -> dict[str, Any]:
    return {"target": name, "measured": value, "met": met}


def _div(a: float, b: float) -> float:
    return a / b if b else float("inf")
