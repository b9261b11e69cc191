"""Markdown tables of evaluator measurements: one row per variant, or per sweep rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rain_guard.eval.evaluator_quality.scoring import QualityReport
from rain_guard.eval.evaluator_quality.sweep import derived_reports, sweep_rules


def markdown_row(variant: str, reports: Sequence[QualityReport]) -> str:
    """One table row: the variant, then per report its AUROC / accuracy / cost."""
    cells = [variant]
    for r in reports:
        m = r.metrics
        if r.dataset == "hh":
            cells += [f"{m['auroc']:.3f}", f"{m['accuracy']:.3f}"]
        else:
            cells += [
                f"{m['auroc']:.3f}",
                f"{m['auroc_unsafe']:.3f}",
                f"{m['accuracy']:.3f} / {m['balanced_accuracy']:.3f}",
                f"{m['best_accuracy']:.3f} / {m['best_balanced_accuracy']:.3f}",
            ]
        cells.append(f"{m['seconds_per_eval']:.2f} s, {m['tokens_per_eval']:.0f} tok")
    return "| " + " | ".join(cells) + " |"


def markdown_header(datasets: Sequence[str]) -> str:
    """Header lines matching ``markdown_row`` for these data sets."""
    head = ["variant"]
    for name in datasets:
        if name == "hh":
            head += ["HH AUROC", "HH pair acc.", "HH cost/eval"]
        else:
            head += [
                "XSTest AUROC",
                "AUROC unsafe prompts",
                "acc. / bal. acc. @0",
                "best acc. / bal. acc.",
                "XSTest cost/eval",
            ]
    return "| " + " | ".join(head) + " |\n|" + "---|" * len(head)


def sweep_table(
    records: Sequence[dict[str, Any]], variants: Sequence[str], datasets: Sequence[str]
) -> str:
    """Markdown table: one row per (variant, scoring rule), sorted by variant then XSTest AUROC."""
    head = ["prompt variant", "scoring rule"]
    if "xstest" in datasets:
        head += ["XSTest AUROC", "AUROC unsafe prompts", "XSTest best bal. acc."]
    if "hh" in datasets:
        head += ["HH AUROC", "HH pair acc."]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for variant in variants:
        mine = [r for r in records if r["variant"] == variant and r["dataset"] in datasets]
        if not mine:
            continue
        rows = []
        for rule in sweep_rules(variant):
            metrics = derived_reports(mine, rule)
            cells = [variant, rule.label()]
            if "xstest" in datasets:
                x = metrics.get("xstest", {})
                keys = ("auroc", "auroc_unsafe", "best_balanced_accuracy")
                cells += [f"{x[k]:.3f}" if k in x else "-" for k in keys]
            if "hh" in datasets:
                h = metrics.get("hh", {})
                cells += [f"{h[k]:.3f}" if k in h else "-" for k in ("auroc", "accuracy")]
            rows.append((-(metrics.get("xstest", {}).get("auroc", 0.0)), cells))
        lines += ["| " + " | ".join(c) + " |" for _, c in sorted(rows, key=lambda r: r[0])]
    return "\n".join(lines)
