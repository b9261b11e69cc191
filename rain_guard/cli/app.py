"""The ``rain-guard`` command: generate and compare answers (eval and bench live beside it).

    rain-guard generate "How do I pick a lock?"
    rain-guard compare "How do I make a bomb at home?" --max-tokens 48

Progress goes to stderr (a bar of committed tokens with the search iterations), answers and
tables to stdout, so ``rain-guard generate ... > answer.txt`` keeps only the answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rain_guard.cli.options import (
    add_search_options,
    add_system_options,
    checked_config,
    parse_criterion,
)
from rain_guard.cli.progress import Progress
from rain_guard.cli.subcommands import LazySubparsers, add_lazy_subcommands
from rain_guard.errors import RainGuardError
from rain_guard.judging.criteria import BUILTIN_CRITERIA
from rain_guard.models.resolve import DTYPES
from rain_guard.search.config import SearchConfig

if TYPE_CHECKING:
    from rain_guard.search.run import GenerationResult


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of every sub-command (eval, bench, bench-merge load when chosen)."""
    parser = argparse.ArgumentParser(
        prog="rain-guard", description="RAIN: self-aligning decoding for open-weight LLMs."
    )
    sub = parser.add_subparsers(dest="command", required=True, action=LazySubparsers)
    gen = sub.add_parser("generate", help="answer a prompt with RAIN")
    _add_common(gen)
    gen.add_argument("--trace", metavar="FILE", help="write the search trace as an HTML page")
    gen.add_argument("--json", action="store_true", help="print the result as JSON")
    cmp_ = sub.add_parser("compare", help="vanilla and RAIN answers side by side, with stats")
    _add_common(cmp_)
    add_lazy_subcommands(sub)  # eval, bench, bench-merge: imported when chosen
    return parser


def _add_common(p: argparse.ArgumentParser) -> None:
    """The prompt, the model and how to load it, the criterion, and every search setting."""
    p.add_argument("prompt", help="the user's request")
    p.add_argument(
        "--model",
        default="smollm2",
        help="model to answer with: smollm2 (the embedded SmolLM2-135M-Instruct), fake (a "
        "deterministic test model, no weights), a local folder or .gguf file, or a Hugging "
        "Face hub id (default: smollm2)",
    )
    p.add_argument(
        "--criterion",
        default=None,
        type=_criterion,
        help="the judge of each partial answer: a self-evaluation criterion ("
        + ", ".join(sorted(BUILTIN_CRITERIA))
        + "), harm_classifier (the shipped learned judge), or a weighted mix such as "
        "'harmless=1,harm_classifier=4' (default: harm_classifier for the embedded smollm2, "
        "harmless for any other model)",
    )
    add_system_options(p)
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="CPU threads of the model (default: torch's choice)",
    )
    p.add_argument(
        "--device",
        default=None,
        help="torch device of the weights: cpu, cuda, cuda:1 (default: cpu)",
    )
    p.add_argument(
        "--dtype",
        default="float32",
        choices=DTYPES,
        help="weight dtype; float32 keeps KV-cache reuse exact (default: float32)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    add_search_options(p, defaults={"max_new_tokens": 64})


def _positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def messages_from_args(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Chat turns: the optional system message, then the prompt."""
    from rain_guard.messages import prompt_turns

    return prompt_turns(args.prompt, args.system)


def _criterion(text: str) -> str | dict[str, float]:
    """``--criterion``: checked before the model loads; an unknown name is a usage error."""
    from rain_guard.chat_settings import check_criterion

    try:
        criterion = parse_criterion(text)
        check_criterion(criterion)
    except RainGuardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return criterion


def run_rain(
    args: argparse.Namespace, backend: Any, config: SearchConfig | None = None
) -> GenerationResult:
    """RAIN answer with a progress bar of committed tokens and iterations.

    ``config`` defaults to the one the options describe (``checked_config(args)``).
    """
    from rain_guard.search.embeddings import MiniLMEmbedder
    from rain_guard.search.run import rain_generate

    config = config or checked_config(args)
    embedder = MiniLMEmbedder() if config.use_similarity else None
    with Progress(
        config.max_new_tokens, desc="RAIN", unit="tok", disable=args.quiet, count_tokens=True
    ) as progress:
        return rain_generate(
            backend,
            messages_from_args(args),
            config=config,
            criterion=args.criterion,
            embedder=embedder,
            on_event=progress.search_event,
        )


def cmd_generate(args: argparse.Namespace) -> int:
    """`rain-guard generate`: the RAIN answer (optionally JSON and an HTML trace)."""
    config = checked_config(args)  # before the model loads: a bad option costs no load time
    backend = _load(args)
    result = run_rain(args, backend, config)
    if args.trace:
        from rain_guard.cli.trace_page import write_trace_html

        write_trace_html(result, args.trace, prompt=args.prompt, model=backend.model_name)
        print(f"trace written to {args.trace}", file=sys.stderr)
    if args.json:
        print(json.dumps(result_summary(result), indent=2))
    else:
        print(result.text)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """`rain-guard compare`: vanilla and RAIN answers side by side with their statistics."""
    from rain_guard.search.run import vanilla_generate

    config = checked_config(args)  # before the model loads: a bad option costs no load time
    backend = _load(args)
    vanilla = vanilla_generate(
        backend, messages_from_args(args), max_new_tokens=config.max_new_tokens, seed=None
    )
    rain = run_rain(args, backend, config)
    print(side_by_side(vanilla, rain))
    return 0


def result_summary(result: GenerationResult) -> dict[str, Any]:
    """The numbers a person compares: text, stop reason, iterations, rewinds, cost."""
    return {
        "text": result.text,
        "stop_reason": result.stop_reason,
        "answer_tokens": len(result.token_ids),
        "iterations": result.iterations,
        "rewinds": result.rewinds,
        "commits": len(result.commits),
        "iterations_per_commit": round(result.iterations / max(1, len(result.commits)), 2),
        "final_value": result.final_value,
        "commit_values": [round(float(c["value"]), 3) for c in result.commits],
        "model_tokens": result.counters.get("tokens_processed", 0),
        "forward_calls": result.counters.get("forward_calls", 0),
        "seconds": round(result.seconds, 2),
    }


def side_by_side(vanilla: GenerationResult, rain: GenerationResult, width: int = 44) -> str:
    """Both answers in two columns, then a table of their statistics."""
    left = textwrap.wrap(vanilla.text or "(empty)", width) or [""]
    right = textwrap.wrap(rain.text or "(empty)", width) or [""]
    rows = [f"{'VANILLA':<{width}} | RAIN", f"{'-' * width}-+-{'-' * width}"]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        rows.append(f"{a:<{width}} | {b}")
    rows.append("")
    v, r = result_summary(vanilla), result_summary(rain)
    rows.append(f"{'':<22}{'vanilla':>12}{'RAIN':>12}")
    for key in (
        "answer_tokens",
        "iterations",
        "rewinds",
        "commits",
        "iterations_per_commit",
        "model_tokens",
        "forward_calls",
        "seconds",
    ):
        rows.append(f"{key:<22}{v[key]!s:>12}{r[key]!s:>12}")
    ratio = rain.seconds / vanilla.seconds if vanilla.seconds > 0 else float("inf")
    rows.append(f"{'time ratio RAIN/vanilla':<22}{'':>12}{ratio:>12.1f}")
    return "\n".join(rows)


def _load(args: argparse.Namespace) -> Any:
    from rain_guard.backends.loading import load_backend

    start = time.perf_counter()
    print(f"loading {args.model} ...", file=sys.stderr, end=" ", flush=True)
    backend = load_backend(
        args.model,
        num_threads=args.threads,
        dtype=getattr(args, "dtype", "float32"),
        device=getattr(args, "device", None),
    )
    print(f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return backend


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rain-guard`` console script."""
    args = build_parser().parse_args(argv)
    handlers = {"generate": cmd_generate, "compare": cmd_compare}
    handler = handlers.get(args.command) or args.handler
    try:
        return handler(args)
    except RainGuardError as exc:
        print(f"rain-guard: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
