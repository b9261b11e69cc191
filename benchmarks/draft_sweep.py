"""Self-evaluation prompt variants and scoring rules on the draft benchmark's TUNING half.

    .venv/bin/python benchmarks/draft_sweep.py --out runs/draft_sweep.jsonl --variants 8,0,6 \
        --sample 3 --lengths "1 sentence,2 sentences,16 tokens"

Records, per prompt variant (``rain-guard eval evaluator --list-variants``), the next-token
probabilities of the sweep's reply tokens in both option orders for every draft and for the
content-free answers "" and "N/A" of each request (``evaluator_quality.sweep_probabilities``;
resumable), then prints every derived scoring rule's AUROC per draft length, best first by
their mean. Choose on the tuning half (the default); ``--half held-out --rules ...`` then
reports only the rules already chosen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import torch
from tqdm import tqdm

from rain_guard.eval.draft_judges import auroc, selected_pairs
from rain_guard.eval.drafts import SOURCES
from rain_guard.eval.evaluator_quality import (
    LabelledAnswer,
    derived_raw,
    sweep_criteria,
    sweep_probabilities,
    sweep_rules,
)


def main() -> None:
    """Record the variants' probabilities (resuming), then rank the derived rules."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--variants", default="8,0,6")
    parser.add_argument("--sample", type=int, default=3)
    parser.add_argument("--lengths", default="1 sentence,2 sentences,16 tokens")
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--half",
        default="tuning",
        choices=("tuning", "held-out"),
        help="held-out: only to report rules already chosen on the tuning half (--rules)",
    )
    parser.add_argument(
        "--rules", default=None, help="'|'-separated rule labels to print (default: all)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    pairs = selected_pairs(
        SimpleNamespace(
            split="dev",
            half="tuning",
            sources=args.sources,
            model_drafts=None,
            lengths=args.lengths,
            sample=args.sample,
        )  # fmt: skip
    )
    groups = {r: g for g, r in enumerate(dict.fromkeys(p.request for p in pairs))}
    items = [LabelledAnswer(p.request, p.draft, p.label, groups[p.request], p.unsafe_prompt)
             for p in pairs]  # fmt: skip
    variants = list(sweep_criteria().items())
    chosen = [variants[int(n)] for n in args.variants.split(",")]
    if args.half == "held-out" and not args.rules:
        parser.error("--half held-out needs --rules: choose on the tuning half first")
    dataset = f"drafts-{args.half}"
    if not args.report_only:
        record(chosen, items, args.out, dataset)
    with open(args.out, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    wanted = set(args.rules.split("|")) if args.rules else None
    report([r for r in records if r["dataset"] == dataset], chosen, pairs, items, wanted)


def record(chosen, items, path, dataset) -> None:  # noqa: ANN001
    """Append the probabilities of every (variant, request) not yet in ``path``."""
    from rain_guard.backends.loading import load_backend

    done: set = set()
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            done = {(r["variant"], r["dataset"], r["group"]) for r in map(json.loads, handle)}
    backend = load_backend("smollm2", num_threads=1)
    backend.max_cached_prefixes = max(backend.max_cached_prefixes, 16)
    with open(path, "a", encoding="utf-8") as out:
        for name, criterion in chosen:

            def progress(groups, label=name):  # noqa: ANN001, ANN202
                return tqdm(groups, desc=label[:40], unit="req", file=sys.stderr)

            sweep_probabilities(
                backend, name, criterion, dataset, items, out, done=done, progress=progress
            )


def report(records, chosen, pairs, items, wanted=None) -> None:  # noqa: ANN001
    """Markdown: variant, rule, AUROC per length and their mean, best mean first."""
    lengths = list(dict.fromkeys(p.length for p in pairs))
    labels = np.array([p.label for p in pairs])
    rows = []
    for name, _ in chosen:
        mine = [r for r in records if r["variant"] == name]
        answers = _align(mine, items)
        if answers is None:
            print(f"{name}: incomplete, skipped", file=sys.stderr)
            continue
        for rule in sweep_rules(name):
            if wanted is not None and rule.label() not in wanted:
                continue
            scores = np.array([_score(r, rule, answers.base[item.group]) for r, item in
                               zip(answers.rows, items, strict=True)])  # fmt: skip
            per = [auroc(scores[[p.length == n for p in pairs]], labels[[p.length == n for p in
                   pairs]]) for n in lengths]  # fmt: skip
            rows.append((float(np.mean(per)), name, rule.label(), per))
    print("| prompt variant | scoring rule | " + " | ".join(lengths) + " | mean |")
    print("|---|---|" + "---|" * (len(lengths) + 1))
    for mean, name, rule, per in sorted(rows, key=lambda r: -r[0]):
        cells = " | ".join(f"{v:.3f}" for v in per)
        print(f"| {name} | {rule} | {cells} | {mean:.3f} |")


def _score(record, rule, base) -> float:  # noqa: ANN001
    raw = derived_raw(record, rule)
    if rule.content_free is None:
        return raw
    return raw - derived_raw(base[rule.content_free], rule)


def _align(records, items):  # noqa: ANN001, ANN202
    """Records in item order, and each group's content-free records (None if incomplete)."""
    by_group: dict[int, list] = {}
    for r in records:
        by_group.setdefault(r["group"], []).append(r)
    rows, base = [], {}
    members: dict[int, int] = {}
    for item in items:
        members[item.group] = members.get(item.group, 0) + 1
    for group, count in members.items():
        got = by_group.get(group, [])
        answers = [r for r in got if r["content_free"] is None]
        if len(answers) != count:
            return None
        base[group] = {r["content_free"]: r for r in got if r["content_free"] is not None}
    cursor = dict.fromkeys(members, 0)
    for item in items:
        group_rows = [r for r in by_group[item.group] if r["content_free"] is None]
        rows.append(group_rows[cursor[item.group]])
        cursor[item.group] += 1
    return SimpleNamespace(rows=rows, base=base)


if __name__ == "__main__":
    main()
