r"""Time RAIN with and without kept walked sets, interleaved in this one process.

``TransformersBackend.keep_walked_sets`` keeps the positions a proposal walk fed for each set
it returns, so expanding or rolling out a set later feeds only its last token. This runs the
same searches both ways, alternating which goes first, on one dev prompt per dataset, and
prints forward calls, tokens processed and seconds per way, the new/old ratios, and whether
the answers are the same. docs/performance.md ("How it is measured", arm (a)) describes
the kept sets it measures.

    .venv/bin/python benchmarks/walked_sets_cost.py \
        --system-file docs/measurements/system_298_tokens.txt
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from rain_guard.backends.loading import load_backend
from rain_guard.bench.items import load_items
from rain_guard.cli.options import add_system_options
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.messages import prompt_turns
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import MiniLMEmbedder
from rain_guard.search.run import rain_generate

WAYS = ("kept", "re-fed")  # keep_walked_sets True (new) and False (old)


def run_once(
    backend: Any, messages: list[tuple[str, str]], config: SearchConfig, embedder: Any, way: str
) -> tuple[str, list[float]]:
    """One search from cold recent-prefix caches; its answer and [seconds, calls, tokens]."""
    backend.keep_walked_sets = way == "kept"
    backend.clear_cache(keep_pinned=True)
    before = backend.counters.snapshot()
    start = time.perf_counter()
    result = rain_generate(
        backend,
        messages,
        config=config,
        evaluator=SelfEvaluator(backend, "harmless"),
        embedder=embedder,
    )
    seconds = time.perf_counter() - start
    work = backend.counters.since(before)
    return result.text, [seconds, work["forward_calls"], work["tokens_processed"]]


def main() -> None:
    """Run the searches both ways and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", default=None)
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs per way and prompt (who goes first alternates)"
    )
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--t-min", type=int, default=6)
    parser.add_argument("--t-max", type=int, default=50)
    add_system_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = load_backend("smollm2", num_threads=1)
    embedder = MiniLMEmbedder()
    config = SearchConfig(max_new_tokens=args.max_tokens, t_min=args.t_min, t_max=args.t_max)
    SelfEvaluator(backend, "harmless").score("Hello", ["Hello."])  # pins its prefix: not timed
    totals = {way: [0.0, 0.0, 0.0] for way in WAYS}
    same, turn = True, 0
    for item in load_items(args.dataset or ["xstest-safe", "advbench"], limit=1):
        messages = prompt_turns(item.prompt, args.system)
        texts = set()
        for _ in range(args.repeats):
            turn += 1
            for way in WAYS if turn % 2 else WAYS[::-1]:  # alternate who goes first
                text, work = run_once(backend, messages, config, embedder, way)
                totals[way] = [a + b for a, b in zip(totals[way], work, strict=True)]
                texts.add(text)
        same = same and len(texts) == 1
    print("| way | seconds | forward calls | tokens processed |")
    print("|---|---:|---:|---:|")
    for way, (seconds, calls, tokens) in totals.items():
        print(f"| {way} | {seconds:.1f} | {calls:.0f} | {tokens:.0f} |")
    ratios = " | ".join(f"{a / b:.3f}" for a, b in zip(*totals.values(), strict=True))
    print(f"| kept / re-fed | {ratios} |")
    print(f"\nsame answer every run: {same}")


if __name__ == "__main__":
    main()
