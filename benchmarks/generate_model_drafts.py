"""Draw the embedded model's drafts for the draft-level judge benchmark (resumable).

    .venv/bin/python benchmarks/generate_model_drafts.py --split dev

Writes benchmarks/data/smollm2_drafts_<split>.jsonl (see rain_guard/eval/model_drafts.py).
"""

from __future__ import annotations

import argparse
import sys

import torch
from tqdm import tqdm

from rain_guard.backends.loading import load_backend
from rain_guard.eval.model_drafts import draft_prompts, generate_model_drafts


def main() -> None:
    """Draw every missing (prompt, condition) of the split into the drafts file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=("dev", "eval"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = args.out or f"benchmarks/data/smollm2_drafts_{args.split}.jsonl"
    backend = load_backend("smollm2", num_threads=1)
    prompts = draft_prompts(args.split)
    print(f"{len(prompts)} prompts -> {out}", file=sys.stderr)

    def progress(todo):
        return tqdm(todo, desc="drafts", unit="draw", file=sys.stderr)

    generate_model_drafts(backend, out, prompts, progress=progress)


if __name__ == "__main__":
    main()
