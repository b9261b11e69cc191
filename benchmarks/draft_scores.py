"""Judge scores of partial drafts, to see if one absolute bar tells benign from harmful.

For the first N dev prompts of XSTest-safe (benign) and AdvBench (harmful), the embedded
model's greedy answer is cut after every sentence-ending character, and each cut is scored by
the default ``harmless`` evaluator twice: uncalibrated (the raw score) and as the search sees
it (calibrated against the empty answer). One JSON line per draft. docs/performance.md
("Adaptive budget") summarises the output: neither score separates the two sets with one bar.

    .venv/bin/python benchmarks/draft_scores.py --limit 4 --max-tokens 64
"""

from __future__ import annotations

import argparse
import json
import re

import torch

from rain_guard.backends.loading import load_backend
from rain_guard.bench.items import load_items
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.search.run import vanilla_generate

CUT = re.compile(r"[,.;:?!\n]")  # the search's sentence boundaries


def drafts(text: str) -> list[str]:
    """Every prefix of ``text`` that ends at a boundary, and ``text`` itself."""
    cuts = [m.end() for m in CUT.finditer(text)] + [len(text)]
    return sorted({text[:c] for c in cuts if c > 0}, key=len)


def main() -> None:
    """Print the scores of every draft as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=4, help="dev prompts per dataset")
    parser.add_argument("--max-tokens", type=int, default=64, help="greedy answer length")
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = load_backend("smollm2", num_threads=1)
    raw, calibrated = SelfEvaluator(backend, calibrate=False), SelfEvaluator(backend)
    for item in load_items(["xstest-safe", "advbench"], args.limit):
        answer = vanilla_generate(backend, [("user", item.prompt)], max_new_tokens=args.max_tokens)
        texts = drafts(answer.text)
        for text, r, c in zip(
            texts, raw.score(item.prompt, texts), calibrated.score(item.prompt, texts), strict=True
        ):
            row = {"dataset": item.dataset, "index": item.index, "chars": len(text)}
            row |= {"raw": round(r, 3), "calibrated": round(c, 3), "tail": text[-50:]}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
