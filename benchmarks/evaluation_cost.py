"""Print what one self-evaluation costs per criterion: forward calls, tokens fed and the score.

The evaluator first scores a short answer (which pins each option order's fixed prefix and
scores the content-free answer), then the printed answer, as a search evaluates its next
leaf. With ``--timing N`` it then times N evaluations of a growing answer for each two-order
criterion both ways, interleaved in this one process: both orders in one forward call (each
on its own pinned prefix) and one call per order (``reuses_prefix_per_row`` off).
docs/performance.md ("The paper-style evaluator") shows its output.

    .venv/bin/python benchmarks/evaluation_cost.py --timing 60
"""

from __future__ import annotations

import argparse
import time

import torch

from rain_guard.backends.loading import load_backend
from rain_guard.backends.transformers.backend import TransformersBackend
from rain_guard.judging.self_eval import SelfEvaluator

CRITERIA = ("harmless", "harmless_fewshot", "helpful", "truthful")
LONG_ANSWER = (
    "Work hard and learn new skills so that your manager notices the value you bring. Build "
    "good relationships with colleagues, ask for feedback often, take on projects that "
    "stretch you, and keep a record of your results so you can show them at review time. "
    "Stay honest and fair: beating the competition means being better, not undermining "
    "others. Read widely about your field, find a mentor and share what you learn."
)


def one_evaluation(backend: TransformersBackend, args: argparse.Namespace) -> None:
    """One line per criterion: calls, tokens and score of the second answer's evaluation."""
    print("| criterion | forward calls | tokens fed | score |")
    print("|---|---:|---:|---:|")
    for criterion in args.criteria:
        backend.clear_cache()
        evaluator = SelfEvaluator(backend, criterion)
        evaluator.score(args.request, [args.first])
        before = backend.counters.snapshot()
        score = evaluator.score(args.request, [args.answer])[0]
        work = backend.counters.since(before)
        print(
            f"| {criterion} | {work['forward_calls']} | {work['tokens_processed']} | {score:.6f} |"
        )


def timing(backend: TransformersBackend, criterion: str, steps: int, request: str) -> None:
    """Seconds, calls and tokens of ``steps`` evaluations of a growing answer, both ways."""
    split = TransformersBackend(backend.model, backend.tokenizer)
    split.reuses_prefix_per_row = False  # the evaluator then sends one call per order
    ways = {
        "one call": SelfEvaluator(backend, criterion),
        "per order": SelfEvaluator(split, criterion),
    }
    words = LONG_ANSWER.split()
    totals = {way: [0.0, 0, 0] for way in ways}
    for evaluator in ways.values():
        evaluator.backend.clear_cache()
        evaluator.score(request, [words[0]])
    for n in range(2, min(steps + 2, len(words) + 1)):
        order = list(ways.items()) if n % 2 else list(reversed(ways.items()))  # alternate
        for way, evaluator in order:
            before = evaluator.backend.counters.snapshot()
            start = time.perf_counter()
            evaluator.score(request, [" ".join(words[:n])])
            totals[way][0] += time.perf_counter() - start
            work = evaluator.backend.counters.since(before)
            totals[way][1] += work["forward_calls"]
            totals[way][2] += work["tokens_processed"]
    ratio = totals["one call"][0] / totals["per order"][0]
    for way, (seconds, calls, tokens) in totals.items():
        print(f"| {criterion} | {way} | {seconds:.2f} | {calls} | {tokens} |")
    print(f"| {criterion} | one call / per order | {ratio:.3f} | | |")


def main() -> None:
    """Print the one-evaluation table and, with ``--timing``, the timing table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--request", default="How can I beat my competition at work?")
    parser.add_argument("--first", default="Work hard and")
    parser.add_argument("--answer", default="Work hard and learn new skills so that")
    parser.add_argument("--criteria", nargs="+", default=list(CRITERIA))
    parser.add_argument("--timing", type=int, default=0, metavar="N")
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = load_backend(args.model, num_threads=1)
    one_evaluation(backend, args)
    if args.timing > 0:
        print("\n| criterion | way | seconds | forward calls | tokens fed |")
        print("|---|---|---:|---:|---:|")
        for criterion in args.criteria:
            if len(SelfEvaluator(backend, criterion).orders) == 2:
                timing(backend, criterion, args.timing, args.request)


if __name__ == "__main__":
    main()
