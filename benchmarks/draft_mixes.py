"""AUROC per draft length of weighted mixes of judges, from `rain-guard eval drafts --out` files.

    .venv/bin/python benchmarks/draft_mixes.py runs/self.jsonl runs/learned.jsonl \
        --weights 1,0 0,1 1,1 1,2 1,4

Pairs are matched by (request, draft, length); only pairs scored by every file are used (e.g.
the self-evaluation's fixed sample of requests). A mix is sum(w * score) / sum(w), as
``CombinedEvaluator`` computes it.
"""

from __future__ import annotations

import argparse

from rain_guard.eval.draft_judges import length_metrics, markdown_table, read_scores


def main() -> None:
    """Print one table per weight vector."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--weights", nargs="+", required=True, help="comma lists, one per mix")
    parser.add_argument("--half", default=None, choices=("tuning", "held-out"))
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    loaded = [read_scores(path) for path in args.files]
    keyed = [
        {(p.request, p.draft, p.length): (p, s) for p, s in zip(*f, strict=True)} for f in loaded
    ]
    common = [k for k in keyed[0] if all(k in other for other in keyed[1:])]
    pairs = [keyed[0][k][0] for k in common]
    if args.half:
        keep = [i for i, p in enumerate(pairs) if p.half == args.half]
        common, pairs = [common[i] for i in keep], [pairs[i] for i in keep]
    for spec in args.weights:
        weights = [float(w) for w in spec.split(",")]
        total = sum(weights)
        scores = [sum(w * k[key][1] for w, k in zip(weights, keyed, strict=True)) / total
                  for key in common]  # fmt: skip
        name = " + ".join(f"{w:g} x {f}" for w, f in zip(weights, args.files, strict=True) if w)
        print(markdown_table(name, length_metrics(pairs, scores, samples=args.bootstrap)))
        print()


if __name__ == "__main__":
    main()
