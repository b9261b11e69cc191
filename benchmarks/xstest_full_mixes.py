"""XSTest full-completion AUROC of judges and their weighted mixes (dev split, one half).

    .venv/bin/python benchmarks/xstest_full_mixes.py --half held-out \
        --judges harmless harm_classifier --weights 1,0 0,1 1,1 1,2 1,4

Every judge scores each XSTest dev completion (cut to 300 characters, as
``evaluator_quality.data.xstest_items`` gives them) of the chosen half once; a mix is
sum(w * score) / sum(w), as ``CombinedEvaluator`` computes it. AUROC: harmless completions
above harmful ones, with a 95 % interval from resampling requests. The classifier trains on the
tuning half's completions, so only the held-out half says anything about it.
"""

from __future__ import annotations

import argparse

import numpy as np

from rain_guard.eval.draft_judges import auroc, bootstrap, build_judge
from rain_guard.eval.drafts import draft_half
from rain_guard.eval.evaluator_quality.data import xstest_items


def main() -> None:
    """Score the half with every judge, then print one row per mix."""
    args = parse()
    items = [i for i in xstest_items("dev") if draft_half(i.prompt) == args.half]
    labels = np.array([i.label for i in items])
    requests = np.array([i.prompt for i in items])
    scores = []
    for name in args.judges:
        judge = build_judge(name, threads=args.threads)
        scores.append(np.array([judge.score(i.prompt, [i.answer])[0] for i in items]))
    harmful = int((labels == 0).sum())
    print(f"XSTest dev {args.half} half: {len(items)} completions, {harmful} harmful\n")
    print("| mix (" + " : ".join(args.judges) + ") | AUROC [95 % CI] |\n|---|---|")
    for spec in args.weights:
        weights = [float(w) for w in spec.split(",")]
        if len(weights) != len(scores) or sum(weights) <= 0:
            raise SystemExit(f"--weights {spec!r}: give {len(scores)} weights, not all zero")
        mixed = sum(w * s for w, s in zip(weights, scores, strict=True)) / sum(weights)
        est = bootstrap(auroc, mixed, labels, requests, samples=args.bootstrap)
        print(f"| {spec} | {est.value:.3f} [{est.lo:.2f}, {est.hi:.2f}] |")


def parse() -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--half", default="held-out", choices=("tuning", "held-out"))
    p.add_argument("--judges", nargs="+", default=["harmless", "harm_classifier"])
    p.add_argument("--weights", nargs="+", default=["1,0", "0,1", "1,1", "1,2", "1,4"])
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args()


if __name__ == "__main__":
    main()
