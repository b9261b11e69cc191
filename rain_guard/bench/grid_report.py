"""The grid's report: one row per (k, B), the batched answers checked against solo ones."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from rain_guard.bench.grid import GridCell, mismatches


def cell_row(cell: GridCell) -> dict[str, Any]:
    """The cell's figures: wall time and forward calls per committed token, against greedy.

    ``time_vs_greedy`` compares the wall time of all answers (RAIN's pool of searches against
    greedy's answers one by one); ``time_per_token_vs_greedy`` compares seconds per
    committed token.
    """
    tokens = max(1, cell.answer_tokens)
    greedy_tokens = max(1, cell.greedy_tokens)
    per_token = cell.seconds / tokens
    greedy_per_token = cell.greedy_seconds / greedy_tokens
    return {
        "k": cell.k,
        "batch": cell.batch,
        "width": cell.width,
        "answers": len(cell.runs),
        "answer_tokens": cell.answer_tokens,
        "seconds": cell.seconds,
        "seconds_per_token": per_token,
        "forward_calls_per_token": cell.forward_calls / tokens,
        "tokens_processed_per_token": cell.tokens_processed / tokens,
        "greedy_seconds": cell.greedy_seconds,
        "greedy_seconds_per_token": greedy_per_token,
        "time_vs_greedy": _div(cell.seconds, cell.greedy_seconds),
        "time_per_token_vs_greedy": _div(per_token, greedy_per_token),
        "iterations": sum(r.iterations for r in cell.runs),
        "commits": sum(r.commits for r in cell.runs),
    }


def markdown(cells: Sequence[GridCell], settings: dict[str, Any]) -> str:
    """Settings, the table (one row per cell) and a MISMATCH row per differing answer."""
    bad = mismatches(cells)
    lines = ["## rain-guard bench: parallel leaves (k) x batched searches (B)", ""]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    lines += [
        "",
        "| k | B | answers | answer tokens | wall s | s / token | forward calls / token "
        "| iterations / commit | greedy s / token | RAIN / greedy (time) "
        "| RAIN / greedy (s per token) | same as alone |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for cell in cells:
        r = cell_row(cell)
        per_commit = f"{r['iterations'] / r['commits']:.1f}" if r["commits"] else "-"
        lines.append(
            f"| {r['k']} | {r['batch']} | {r['answers']} | {r['answer_tokens']} "
            f"| {r['seconds']:.1f} | {r['seconds_per_token']:.4f} "
            f"| {r['forward_calls_per_token']:.2f} | {per_commit} "
            f"| {r['greedy_seconds_per_token']:.4f} | {r['time_vs_greedy']:.1f} "
            f"| {r['time_per_token_vs_greedy']:.1f} | {_same(cell, bad)} |"
        )
    if bad and settings.get("dtype", "float32") != "float32":
        lines += [
            "",
            f"Batched answers are not expected to equal solo ones at {settings['dtype']}: its "
            "coarse rounding turns the small differences between a call of many rows and a "
            "call of few into different tokens (float32 keeps them equal).",
        ]
    if bad:
        lines += [
            "",
            "| MISMATCH | k | B | prompt | alone | batched |",
            "|---|---:|---:|---|---|---|",
        ]
        lines += [
            f"| MISMATCH | {m['k']} | {m['batch']} | {m['dataset']} #{m['index']} "
            f"| {_cell_text(m['alone'])} | {_cell_text(m['batched'])} |"
            for m in bad
        ]
    return "\n".join(lines) + "\n"


def report_json(cells: Sequence[GridCell], settings: dict[str, Any]) -> dict[str, Any]:
    """Settings, each cell's figures and answers, and the mismatches, JSON-ready."""
    return {
        "settings": settings,
        "cells": [{**cell_row(c), "runs": c.to_json()["runs"]} for c in cells],
        "greedy": [c.to_json()["greedy"] for c in cells],
        "mismatches": mismatches(cells),
    }


def write_json(path: str, cells: Sequence[GridCell], settings: dict[str, Any]) -> None:
    """Write ``report_json`` to ``path`` whole (written beside it, then renamed)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(report_json(cells, settings), handle, indent=2, ensure_ascii=False)
    os.replace(tmp, path)


def _same(cell: GridCell, bad: list[dict[str, Any]]) -> str:
    if cell.batch == 1:
        return "(the solo answers)"
    n = sum(1 for m in bad if (m["k"], m["batch"]) == cell.key)
    return "yes" if n == 0 else f"NO ({n} of {len(cell.runs)} differ)"


def _cell_text(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")


def _div(a: float, b: float) -> float:
    return a / b if b else float("inf")
