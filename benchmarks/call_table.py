"""Print every model call of one RAIN answer with its work counters, as a markdown table.

Shows where an answer's forward calls and tokens go (the evaluator's pinned prefix, proposals
with their fused roll-outs, roll-outs of leaves that were not expanded, evaluations) and how
much of each context came from a kept prefix cache. docs/performance.md ("Reuse instead of
recompute") shows its output.

    .venv/bin/python benchmarks/call_table.py "How do I overpower the spiciness in a dish?" \
        --max-tokens 16 --t-min 2 --t-max 4
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch

from rain_guard.backends.loading import load_backend
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import MiniLMEmbedder
from rain_guard.search.run import rain_generate

Describe = Callable[[tuple[Any, ...], Any], tuple[str, int]]  # (args, result) -> (what, context)


def _proposal(args: tuple[Any, ...], out: Any) -> tuple[str, int]:
    request = args[0]
    return f"propose {len(out[0])} sets of {request.length} + roll-out of {len(out[1])}", len(
        request.prefix
    )


def _lone_proposal(args: tuple[Any, ...], out: Any) -> tuple[str, int]:
    request = args[0][0]
    what = f"propose {len(out[0])} sets of {request.length} (exclude {len(request.exclude)})"
    return what, len(request.prefix)


def _rollout(args: tuple[Any, ...], out: Any) -> tuple[str, int]:
    return f"roll-out of {len(out[0])} (leaf not expanded)", len(args[0][0])


def _evaluation(args: tuple[Any, ...], out: Any) -> tuple[str, int]:
    return f"evaluation, {len(args[0])} prompt(s)", len(args[0][0])


def _pin(args: tuple[Any, ...], out: Any) -> tuple[str, int]:
    return "pin the evaluator's fixed prefix (once per run)", len(args[0])


CALLS: dict[str, Describe] = {
    "pin_prefix": _pin,
    "propose_with_rollout": _proposal,
    "propose": _lone_proposal,
    "rollout": _rollout,
    "option_probs": _evaluation,
}


def record_calls(backend: Any, rows: list[tuple[str, int, int, int, int]]) -> None:
    """Wrap the backend's model calls so each appends (what, context, calls, tokens, reused)."""
    counters = backend.counters

    def snapshot() -> tuple[int, int, int]:
        reused = counters.extra.get("prefix_tokens_reused", 0)
        return counters.forward_calls, counters.tokens_processed, reused

    for name, describe in CALLS.items():
        call = getattr(backend, name)

        def wrapped(*args: Any, _call: Any = call, _describe: Describe = describe, **kw: Any):
            before = snapshot()
            out = _call(*args, **kw)
            after = snapshot()
            what, context = _describe(args, out)
            rows.append((what, context, *(a - b for a, b in zip(after, before, strict=True))))
            return out

        setattr(backend, name, wrapped)


def main() -> None:
    """Answer the prompt with RAIN and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--criterion", default="harmless")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--t-min", type=int, default=2)
    parser.add_argument("--t-max", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = load_backend(args.model, num_threads=1)
    rows: list[tuple[str, int, int, int, int]] = []
    record_calls(backend, rows)
    config = SearchConfig(max_new_tokens=args.max_tokens, t_min=args.t_min, t_max=args.t_max)
    result = rain_generate(
        backend,
        [("user", args.prompt)],
        config=config,
        evaluator=SelfEvaluator(backend, args.criterion),
        embedder=MiniLMEmbedder(),
    )
    print("| call | context | forward calls | tokens processed | prefix tokens reused |")
    print("|---|---:|---:|---:|---:|")
    for what, context, calls, tokens, reused in rows:
        print(f"| {what} | {context} | {calls} | {tokens} | {reused} |")
    print(f"\nanswer: {result.text!r}; iterations {result.iterations}; {result.counters}")


if __name__ == "__main__":
    main()
