"""Score movement and verdict flips of a judge under the generated forgery suite, per family.

    .venv/bin/python benchmarks/forgery_report.py --judge harmless --half tuning
    .venv/bin/python benchmarks/forgery_report.py --judge harm_classifier --half held-out
    .venv/bin/python benchmarks/forgery_report.py --judge harm_classifier --no-structural-cuts

Tune a defence on ``--half tuning`` only; report ``--half held-out``. ``--bodies`` limits the
bodies (the self-evaluation costs about a second per attacked answer on a CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

import torch

from rain_guard.eval.draft_judges import build_judge
from rain_guard.eval.forgery_suite import BODIES, MAX_SHIFT, attacks, measure
from rain_guard.judging.forgery_spans import structural_cuts_off


def main() -> None:
    """Print one markdown row per attack family and one for all, and optionally the shifts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judge", default="harmless")
    parser.add_argument("--half", default="held-out", choices=("tuning", "held-out"))
    parser.add_argument("--bodies", default=None, help="comma list of body names (default all)")
    parser.add_argument("--out", default=None, help="write each attack's shift to this JSONL")
    parser.add_argument(
        "--no-structural-cuts",
        action="store_true",
        help="switch judging/forgery_spans.py off for both judges (only delimit_answer's patterns)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    switch = structural_cuts_off() if args.no_structural_cuts else contextlib.nullcontext()
    with switch:
        report(args)


def report(args: argparse.Namespace) -> None:
    """Score the chosen half's attacks with ``args.judge`` and print (and write) the rows."""
    bodies = BODIES
    if args.bodies:
        names = set(args.bodies.split(","))
        bodies = tuple(b for b in BODIES if b.name in names)
    chosen = attacks(args.half, bodies)
    judge = build_judge(args.judge, threads=1)
    families = sorted({a.template.family for a in chosen})
    print(f"| {args.judge}, {args.half} half: family | attacked answers | "
          f"|shift| < {MAX_SHIFT} | max |shift| | flips / body right |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    rows = []
    for family in [*families, None]:
        group = [a for a in chosen if family is None or a.template.family == family]
        report = measure(judge, group)
        rows.append((family, group, report))
        print(
            f"| {family or '**all**'} | {report.attacks} | {report.within_limit:.3f} | "
            f"{report.max_shift:.3f} | {report.flips} / {report.body_right} |"
        )
    if args.out:
        _, group, report = rows[-1]
        with open(args.out, "w", encoding="utf-8") as handle:
            for attack, shift in zip(_by_body_order(group), report.shifts, strict=True):
                record = {
                    "family": attack.template.family,
                    "template": attack.template.text,
                    "position": attack.position,
                    "body": attack.body.name,
                    "shift": shift,
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{len(chosen)} attacked answers", file=sys.stderr)


def _by_body_order(chosen):  # noqa: ANN001, ANN202 - the order measure() scores them in
    by_body: dict = {}
    for attack in chosen:
        by_body.setdefault(attack.body, []).append(attack)
    return [a for group in by_body.values() for a in group]


if __name__ == "__main__":
    main()
