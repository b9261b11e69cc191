r"""Forward calls and tokens of RAIN searches alone and batched in lockstep, on a tiny model.

Runs each prompt's search alone (a fresh backend each), then all of them in lockstep through
one ``SharedBatch`` (``run_in_lockstep``, as ``eval run --batch`` and the bench grid do, on a
fresh backend), and prints the forward calls and tokens processed of each way and whether
every batched answer equals its solo answer. The model is the tiny random Llama of the unit
tests (``tests/unit_tests/tiny_models.py``), built in memory, and the judge a function of the
answer's length, so it runs in seconds on one CPU thread and measures the batching itself.
docs/performance.md ("Parallel leaves and batched searches") quotes it.

    .venv/bin/python benchmarks/batched_calls.py --leaves 1 4
    .venv/bin/python benchmarks/batched_calls.py --prompts 4 --keep 4 --budget-per-backend
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "unit_tests"))

from tiny_models import make_model, make_tokenizer  # noqa: E402

from rain_guard.backends.batching import run_in_lockstep  # noqa: E402
from rain_guard.backends.transformers import TransformersBackend  # noqa: E402
from rain_guard.judging.evaluator import FunctionEvaluator  # noqa: E402
from rain_guard.search.config import SearchConfig  # noqa: E402
from rain_guard.search.run import rain_generate  # noqa: E402

PROMPTS = ["hello there", "how are you today", "bake a cake", "the quick brown fox"]


def by_length(prompt: str, answer: str) -> float:
    """Scores spread over [0, 1) by answer length, so that searches branch and differ."""
    return (len(answer) % 7) / 7.0


def searched(args: argparse.Namespace, model: Any, tok: Any, prompts: list[str], k: int):
    """Answers to ``prompts`` in lockstep on a fresh backend, and its (calls, tokens)."""
    config = SearchConfig(
        max_new_tokens=args.max_tokens,
        t_min=2,
        t_max=args.t_max,
        num_candidates=args.candidates,
        rollout_max_tokens=4,
        use_similarity=False,
        parallel_leaves=k,
    )
    backend = TransformersBackend(model, tok, max_cached_prefixes=args.keep)

    def search(view: Any, prompt: str) -> str:
        evaluator = FunctionEvaluator(by_length)
        return rain_generate(view, [("user", prompt)], config=config, evaluator=evaluator).text

    texts = run_in_lockstep(
        backend,
        prompts,
        search,
        max_wait=30.0,
        cache_per_search=not args.budget_per_backend,
    )
    return texts, (backend.counters.forward_calls, backend.counters.tokens_processed)


def main(argv: list[str] | None = None) -> None:
    """Print one table row per k: the searches alone and batched."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, nargs="+", default=[1, 4], help="k values")
    parser.add_argument("--prompts", type=int, default=2, help="searches in the batch (B)")
    parser.add_argument("--keep", type=int, default=4, help="max_cached_prefixes (N)")
    parser.add_argument("--t-max", type=int, default=8, help="T_max per commit")
    parser.add_argument("--candidates", type=int, default=3, help="q")
    parser.add_argument("--max-tokens", type=int, default=6, help="answer tokens")
    parser.add_argument(
        "--budget-per-backend",
        action="store_true",
        help="keep N kept prefixes for the whole batch instead of N per search",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tok = make_tokenizer()
    model = make_model(len(tok))
    prompts = PROMPTS[: args.prompts]
    print("| k | B | N | calls alone | tokens alone | calls batched | tokens batched | same |")
    print("|---:|---:|---:|---|---:|---:|---:|---|")
    for k in args.leaves:
        alone = [searched(args, model, tok, [p], k) for p in prompts]
        texts, (calls, tokens) = searched(args, model, tok, prompts, k)
        solo_calls = [c for _, (c, _) in alone]
        solo_tokens = sum(t for _, (_, t) in alone)
        same = texts == [t[0] for t, _ in alone]
        each = " + ".join(map(str, solo_calls))
        print(
            f"| {k} | {len(prompts)} | {args.keep} | {each} = {sum(solo_calls)} | {solo_tokens} "
            f"| {calls} | {tokens} | {'yes' if same else 'NO'} |"
        )


if __name__ == "__main__":
    main()
