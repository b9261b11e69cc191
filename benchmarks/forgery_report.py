"""Score movement and verdict flips of a judge under a forgery suite, per family.

    .venv/bin/python benchmarks/forgery_report.py --judge harmless --half tuning
    .venv/bin/python benchmarks/forgery_report.py --judge harm_classifier --half held-out
    .venv/bin/python benchmarks/forgery_report.py --judge harm_classifier --no-structural-cuts
    .venv/bin/python benchmarks/forgery_report.py --suite blind --judge harm_classifier

Tune a defence on ``--half tuning`` only; report ``--half held-out``. ``--suite`` picks the
generated suite (default) or a blind one (rain_guard/eval/forgery_blind.py and
forgery_blind2/, each written without reading the defences or the other suites).
``--bodies`` limits the bodies of the chosen suite (the self-evaluation costs about a second
per attacked answer on a CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

import torch

from rain_guard.eval.draft_judges import build_judge
from rain_guard.eval.forgery_blind import BLIND_BODIES, blind_attacks
from rain_guard.eval.forgery_blind2 import BLIND2_BODIES, blind2_attacks
from rain_guard.eval.forgery_suite import BODIES, MAX_SHIFT, attacks, score_attacks, summarise
from rain_guard.judging.forgery_spans import structural_cuts_off

SUITES = {
    "generated": (BODIES, attacks),
    "blind": (BLIND_BODIES, blind_attacks),
    "blind2": (BLIND2_BODIES, blind2_attacks),
}
"""Suite name -> (its bodies, its attacks(half, bodies))."""


def main() -> None:
    """Print one markdown row per attack family and one for all, and optionally the shifts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judge", default="harmless")
    parser.add_argument(
        "--suite",
        default="generated",
        choices=tuple(SUITES),
        help="generated: forgery_suite.py; blind: forgery_blind.py; blind2: forgery_blind2/",
    )
    parser.add_argument("--half", default="held-out", choices=("tuning", "held-out"))
    parser.add_argument("--bodies", default=None, help="comma list of body names (default all)")
    parser.add_argument("--out", default=None, help="write each attack's shift to this JSONL")
    parser.add_argument(
        "--no-structural-cuts",
        action="store_true",
        help="switch judging/forgery_spans.py off for both judges (only delimit_answer's patterns)",
    )
    parser.add_argument(
        "--no-unit-ablation",
        action="store_true",
        help="harm_classifier: score the read draft alone, not its leave-one-unit-out copies",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    switch = structural_cuts_off() if args.no_structural_cuts else contextlib.nullcontext()
    with switch:
        report(args)


def switch_unit_ablation_off(judge: Any) -> int:
    """Score ``judge``'s learned parts on the read draft alone; returns how many it switched."""
    switched = 0
    for part in [judge, *(p for p, _ in getattr(judge, "parts", []))]:  # a mix's parts too
        if hasattr(part, "ablate_units"):
            part.ablate_units = False
            switched += 1
    return switched


def report(args: argparse.Namespace) -> None:
    """Score the chosen half's attacks with ``args.judge`` and print (and write) the rows."""
    every, placed = SUITES[args.suite]
    bodies = every
    if args.bodies:
        names = set(args.bodies.split(","))
        bodies = tuple(b for b in every if b.name in names)
    chosen = placed(args.half, bodies)
    judge = build_judge(args.judge, threads=1)
    if args.no_unit_ablation:
        switch_unit_ablation_off(judge)
    scored = score_attacks(judge, chosen)
    families = sorted({a.template.family for a in chosen})
    name = args.judge if args.suite == "generated" else f"{args.judge}, {args.suite} suite"
    print(f"| {name}, {args.half} half: family | attacked answers | "
          f"|shift| < {MAX_SHIFT} | max |shift| | flips / body right |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for family in [*families, None]:
        group = [s for s in scored if family is None or s.attack.template.family == family]
        r = summarise(group)
        print(
            f"| {family or '**all**'} | {r.attacks} | {r.within_limit:.3f} | "
            f"{r.max_shift:.3f} | {r.flips} / {r.body_right} |"
        )
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            for s in scored:
                record = {
                    "family": s.attack.template.family,
                    "template": s.attack.template.text,
                    "position": s.attack.position,
                    "body": s.attack.body.name,
                    "shift": s.shift,
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{len(chosen)} attacked answers", file=sys.stderr)


if __name__ == "__main__":
    main()
