"""The bench's settings lines (model, machine, prompts, judge, search), for every report."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from rain_guard.backends.base import Backend
from rain_guard.bench.machine import device_name
from rain_guard.search import steps as search
from rain_guard.search.config import SearchConfig

DEFAULT_DATASETS = ("advbench", "xstest-safe")


def _which(limit: int, skip: int) -> str:
    """Which prompts of each dataset ran, e.g. "first 3" or "prompts 4-6"."""
    return f"first {limit}" if skip == 0 else f"prompts {skip + 1}-{skip + limit}"


def bench_settings(
    args: argparse.Namespace,
    backend: Backend,
    config: SearchConfig,
    datasets: Sequence[str],
    n: int,
) -> dict[str, Any]:
    """The report's settings lines: model, machine, prompts, judge, search settings."""
    import torch

    out = {
        "model": backend.model_name,
        "device": device_name(backend),
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "prompts": f"{n} ({', '.join(datasets)}, dev split, {_which(args.limit, args.skip)} each)",
        "criterion": args.criterion,
        "system message": f"{len(args.system)} characters" if args.system else "none",
        "(b)": "counted exactly, its forward passes not run (not timed)"
        if args.reference_count_only
        else "replayed with real forward passes (timed)",
        "seed": config.seed,
        "max_new_tokens": f"{config.max_new_tokens} (every arm; (d) is capped at this too, "
        "the reference's vanilla ran to 2048 tokens in all)",
        "search": f"t_min {config.t_min}, t_max {config.t_max}, v_threshold "
        f"{config.v_threshold}, q {config.num_candidates}, rollout <= "
        f"{config.rollout_max_tokens}, set lengths {config.set_lengths}, similarity "
        f"{'on' if config.use_similarity else 'off'}",
    }
    for name in ("t_min_schedule", "t_max_schedule"):
        if getattr(config, name):
            out["search"] += f", {name} {' '.join(map(str, getattr(config, name)))}"
    if config.stop_when_decided:
        out["search"] += ", stop when decided"
    if args.adaptive:
        adaptive = config.replace(adaptive_commit=True)
        out["adaptive"] = (
            f"min iterations {config.adaptive_min_iterations}, value >= "
            f"{config.adaptive_value}, margin {config.adaptive_margin}, greedy first "
            f"{'on' if search.greedy_first(adaptive) else 'off'}, greedy roll-outs "
            f"{'on' if search.greedy_rollout(adaptive) else 'off'}"
        )
    return out
