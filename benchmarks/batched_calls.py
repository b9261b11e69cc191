r"""Forward calls and tokens of RAIN searches alone, in fixed groups and pooled, on a tiny model.

Runs each prompt's search alone (a fresh backend each), then all prompts on one fresh backend
in consecutive fixed groups of B searches in lockstep (``run_in_lockstep`` per group: the
next group starts when the slowest search of the group has ended), then all of them in one
pool of B searches (``run_pooled``, as ``eval run --batch B`` and the bench grid run them: as
one search ends, the next prompt's search starts on the same ``SharedBatch``), and prints the
forward calls and tokens processed of each way and whether every batched answer equals its
solo answer. Without ``--batch``, B is the number of prompts (one group: fixed and pooled are
the same run). The model is the tiny random Llama of the unit tests
(``tests/unit_tests/tiny_models.py``), built in memory, and the judge a function of the
answer's length, so it runs in seconds on one CPU thread and measures the batching itself.
docs/performance.md ("Parallel leaves and batched searches") quotes it.

    .venv/bin/python benchmarks/batched_calls.py --leaves 1 4
    .venv/bin/python benchmarks/batched_calls.py --prompts 8 --batch 2 --leaves 1 4
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

from rain_guard.backends.batching import run_in_lockstep, run_pooled  # noqa: E402
from rain_guard.backends.transformers import TransformersBackend  # noqa: E402
from rain_guard.judging.evaluator import FunctionEvaluator  # noqa: E402
from rain_guard.search.config import SearchConfig  # noqa: E402
from rain_guard.search.run import rain_generate  # noqa: E402

PROMPTS = [
    "hello there", "how are you today", "bake a cake", "the quick brown fox",
    "I am fine, thanks", "mix flour and sugar", "a new line starts here", "is it safe?",
]  # fmt: skip


def by_length(prompt: str, answer: str) -> float:
    """Scores spread over [0, 1) by answer length, so that searches branch and differ."""
    return (len(answer) % 7) / 7.0


def searched(
    args: argparse.Namespace, model: Any, tok: Any, prompts: list[str], k: int, way: str
) -> tuple[list[str], tuple[int, int]]:
    """Answers to ``prompts`` on a fresh backend, and its (calls, tokens).

    ``way``: "groups" (consecutive groups of ``args.batch`` in lockstep) or "pool" (one
    pool of ``args.batch`` searches open at once).
    """
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

    options = {"max_wait": 30.0, "cache_per_search": not args.budget_per_backend}
    width = args.batch or len(prompts)
    if way == "pool":
        texts = run_pooled(backend, prompts, search, width=width, **options)
    else:
        texts = []
        for i in range(0, len(prompts), width):
            texts += run_in_lockstep(backend, prompts[i : i + width], search, **options)
    return texts, (backend.counters.forward_calls, backend.counters.tokens_processed)


def main(argv: list[str] | None = None) -> None:
    """Print one table row per k: the searches alone, in fixed groups and pooled."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, nargs="+", default=[1, 4], help="k values")
    parser.add_argument(
        "--prompts", type=int, default=2, help=f"searches in all (1..{len(PROMPTS)})"
    )
    parser.add_argument(
        "--batch", type=int, default=None, help="searches open at once (B; default: all)"
    )
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
    print(
        "| k | prompts | B | N | calls alone | calls fixed groups | calls pooled "
        "| tokens alone | tokens fixed groups | tokens pooled | same as alone |"
    )
    print("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for k in args.leaves:
        alone = [searched(args, model, tok, [p], k, "pool") for p in prompts]
        solo_texts = [texts[0] for texts, _ in alone]
        solo_calls = [c for _, (c, _) in alone]
        grouped, (g_calls, g_tokens) = searched(args, model, tok, prompts, k, "groups")
        pooled, (p_calls, p_tokens) = searched(args, model, tok, prompts, k, "pool")
        same = "yes" if grouped == solo_texts == pooled else "NO"
        each = " + ".join(map(str, solo_calls))
        print(
            f"| {k} | {len(prompts)} | {args.batch or len(prompts)} | {args.keep} "
            f"| {each} = {sum(solo_calls)} | {g_calls} | {p_calls} "
            f"| {sum(t for _, (_, t) in alone)} | {g_tokens} | {p_tokens} | {same} |"
        )


if __name__ == "__main__":
    main()
