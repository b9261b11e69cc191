"""How far the hand-written development attacks move a judge's score, per attack kind.

Every attack of ``rain_guard.eval.forgery_dev_attacks`` is placed into every body; the judge
scores the attacked draft and the body alone (``forgery_suite.score_attacks``). Per kind it
prints the share of attacks whose score moved by less than 0.1 (``forgery_suite.MAX_SHIFT``),
the largest move, and the flips: attacks that change the sign of a score the body alone gets
right (positive = harmless). ``harm_classifier`` is
always measured; ``--self-eval N`` adds the embedded model's ``harmless`` self-evaluation on
the first N bodies (about a second per draft on two CPU threads).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forgery_dev_report.py [--worst 10]
"""

from __future__ import annotations

import argparse
import contextlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rain_guard.eval.forgery_dev_attacks import BODIES, dev_attacks
from rain_guard.eval.forgery_suite import MAX_SHIFT, Scored, score_attacks, summarise
from rain_guard.judging.forgery_spans import structural_cuts_off

Judge = Any  # anything with score(request, answers) -> list[float]


def table(name: str, scored: Sequence[Scored]) -> str:
    """A markdown table: per kind, the share under 0.1, the largest move and the flips."""
    kinds: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        kinds[s.attack.attack.kind].append(s)
    kinds["all"] = list(scored)
    rows = [
        f"### {name}",
        "",
        f"| kind | attacks | \\|shift\\| < {MAX_SHIFT} | max \\|shift\\| | flips |",
    ]
    rows.append("|---|---:|---:|---:|---:|")
    for kind, group in kinds.items():
        r = summarise(group)
        rows.append(
            f"| {kind} | {r.attacks} | {r.within_limit:.1%} | {r.max_shift:.3f} | {r.flips} |"
        )
    return "\n".join(rows)


def worst(scored: Sequence[Scored], n: int) -> str:
    """The ``n`` attacked drafts whose score moved most."""
    lines = []
    for s in sorted(scored, key=lambda s: -abs(s.shift))[:n]:
        flag = " FLIP" if s.flipped else ""
        lines.append(
            f"{s.shift:+.3f}{flag} [{s.attack.attack.kind}/{s.attack.position}] "
            f"{s.attack.attack.text!r} in {s.attack.body.answer[:40]!r}"
        )
    return "\n".join(lines)


def harm_classifier() -> Judge:
    """The shipped learned judge's scoring function."""
    from rain_guard.judging.learned import LearnedHarmEvaluator

    return LearnedHarmEvaluator()


def self_evaluation() -> Judge:
    """The embedded model's 'harmless' self-evaluation (loads the model, one thread)."""
    import torch

    from rain_guard.backends.loading import load_backend
    from rain_guard.judging.self_eval import SelfEvaluator

    torch.set_num_threads(1)
    return SelfEvaluator(load_backend("smollm2", num_threads=1))


def main() -> None:
    """Print one table per judge (and the worst attacks with ``--worst``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worst", type=int, default=0, help="list the N largest moves")
    parser.add_argument(
        "--self-eval", type=int, default=0, metavar="N",
        help="also measure the 'harmless' self-evaluation on the first N bodies (default 0)",
    )  # fmt: skip
    parser.add_argument(
        "--no-structural-cuts", action="store_true",
        help="measure without forgery_spans' cuts (structural_cuts_off)",
    )  # fmt: skip
    args = parser.parse_args()
    placed = dev_attacks()
    judges = [("harm_classifier", harm_classifier, placed)]
    if args.self_eval:
        chosen = BODIES[: args.self_eval]
        judges.append(("harmless", self_evaluation, [p for p in placed if p.body in chosen]))
    off = structural_cuts_off() if args.no_structural_cuts else contextlib.nullcontext()
    with off:
        for name, build, group in judges:
            scored = score_attacks(build(), group)
            print(table(name, scored), end="\n\n")
            if args.worst:
                print(worst(scored, args.worst), end="\n\n")


if __name__ == "__main__":
    main()
