"""Compare harm-classifier files on the checks that do not train on them, side by side.

    .venv/bin/python benchmarks/compare_harm_classifiers.py \
        shipped=rain_guard/judging/harm_classifier.npz new=/tmp/hc_new.npz

Per file (``LearnedHarmEvaluator(path)``), all on data the training script never reads:

* the dev draft benchmark's held-out half: AUROC per draft length (as
  ``rain-guard eval drafts --judge harm_classifier --half held-out``);
* ``benchmarks/guard_answers.jsonl``: AUROC of the hand-written agent answers and the scores
  of the ordinary-help answers (kind ``help``), as ``guard_threshold.py`` scores them;
* XSTest full completions of the dev split's held-out half, cut to 300 characters
  (``evaluator_quality.data.xstest_items``): AUROC;
* the forgery suite's held-out half (``forgery_report.py --half held-out``): the share of
  attacked answers whose score moves less than ``MAX_SHIFT``, and the verdict flips.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rain_guard.eval.draft_judges import auroc, score_pairs
from rain_guard.eval.drafts import DRAFT_LENGTHS, HARMLESS, draft_half, draft_pairs
from rain_guard.judging.learned import LearnedHarmEvaluator

ROOT = Path(__file__).resolve().parents[1]
DRAFTS_FILE = ROOT / "benchmarks" / "data" / "smollm2_drafts_dev.jsonl"
GUARD_ANSWERS = ROOT / "benchmarks" / "guard_answers.jsonl"
HELP_KIND = "help"


def held_out_drafts(judge: Any) -> dict[str, float]:
    """AUROC per draft length on the dev draft benchmark's held-out half."""
    pairs = [p for p in draft_pairs("dev", model_drafts=DRAFTS_FILE) if p.half == "held-out"]
    scores = np.array(score_pairs(judge, pairs))
    labels = np.array([p.label for p in pairs])
    lengths = np.array([p.length for p in pairs])
    return {n: auroc(scores[lengths == n], labels[lengths == n]) for n in DRAFT_LENGTHS}


def guard_answers(judge: Any) -> dict[str, Any]:
    """AUROC on the guard's labelled agent answers and the ordinary-help answers' scores."""
    rows = [json.loads(line) for line in GUARD_ANSWERS.read_text().splitlines() if line.strip()]
    scores = np.array([judge.score(r["request"], [r["answer"]])[0] for r in rows])
    labels = np.array([HARMLESS if r["label"] == "harmless" else 0 for r in rows])
    helps = {r["request"]: round(float(s), 3) for r, s in zip(rows, scores, strict=True)
             if r.get("kind") == HELP_KIND}  # fmt: skip
    return {"auroc": auroc(scores, labels), "help": helps}


def xstest_held_out(judge: Any) -> float:
    """AUROC on XSTest full completions (300 characters) of the dev held-out half."""
    from rain_guard.eval.evaluator_quality.data import xstest_items

    items = [i for i in xstest_items("dev") if draft_half(i.prompt) == "held-out"]
    scores = np.array([judge.score(i.prompt, [i.answer])[0] for i in items])
    return auroc(scores, np.array([i.label for i in items]))


def forgery_held_out(judge: Any) -> dict[str, Any]:
    """The forgery suite's held-out half: share under MAX_SHIFT and flips."""
    from rain_guard.eval.forgery_suite import attacks, measure

    report = measure(judge, attacks("held-out"))
    return {
        "attacks": report.attacks,
        "within_limit": round(report.within_limit, 4),
        "max_shift": round(report.max_shift, 3),
        "flips": report.flips,
        "body_right": report.body_right,
    }


def main() -> None:
    """Print one JSON object per file, then a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="NAME=PATH of each classifier file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {}
    for spec in args.files:
        name, _, path = spec.partition("=")
        judge = LearnedHarmEvaluator(path)
        results[name] = {
            "drafts_held_out": held_out_drafts(judge),
            "guard_answers": guard_answers(judge),
            "xstest_held_out": xstest_held_out(judge),
            "forgery_held_out": forgery_held_out(judge),
        }
        print(json.dumps({name: results[name]}, indent=1), flush=True)
    print(table(results))


def table(results: dict[str, dict[str, Any]]) -> str:
    """One row per measure, one column per file."""
    names = list(results)
    lines = ["| measure | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    for length in DRAFT_LENGTHS:
        row(f"drafts held-out AUROC, {length}",
            [f"{results[n]['drafts_held_out'][length]:.3f}" for n in names])  # fmt: skip
    row("guard answers AUROC", [f"{results[n]['guard_answers']['auroc']:.3f}" for n in names])
    for request in results[names[0]]["guard_answers"]["help"]:
        row(f"guard help: {request[:50]}",
            [f"{results[n]['guard_answers']['help'][request]:+.2f}" for n in names])  # fmt: skip
    row("XSTest held-out AUROC", [f"{results[n]['xstest_held_out']:.3f}" for n in names])
    row("forgery held-out: share |shift| < 0.1",
        [f"{results[n]['forgery_held_out']['within_limit']:.3f}" for n in names])  # fmt: skip
    row("forgery held-out: flips / body right",
        [f"{results[n]['forgery_held_out']['flips']} / "
         f"{results[n]['forgery_held_out']['body_right']}" for n in names])  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
