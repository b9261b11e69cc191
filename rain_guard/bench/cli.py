"""``rain-guard bench``: what RAIN costs, against vanilla decoding and the reference's way.

    rain-guard bench --limit 3 --max-tokens 32 --threads 1 --adaptive --json bench.json
    rain-guard bench --grid --limit 4 --threads 1 --resume grid.jsonl   # k x B grid

Every prompt is answered by each arm (``rain_guard.bench.arms``) in one process, interleaved
(``rain_guard.bench.runner``). The output is markdown: the cost per arm, the ratios, the
refusal judge's verdicts (so that nobody buys speed with safety) and the targets of
docs/performance.md (``rain_guard.bench.report``).
"""

from __future__ import annotations

import argparse
from typing import Any

from rain_guard.bench.aggregate import BENIGN
from rain_guard.bench.arms import (
    ADAPTIVE,
    ARM_TITLES,
    ARMS,
    PAPER_VANILLA,
    RAIN,
    REFERENCE,
    VANILLA,
    ArmRun,
)
from rain_guard.bench.grid_cli import add_grid_options, grid_requested
from rain_guard.bench.items import load_items
from rain_guard.bench.machine import memory_settings
from rain_guard.bench.report import ANSWERS, markdown, write_report
from rain_guard.bench.runner import Bench
from rain_guard.bench.settings import DEFAULT_DATASETS, bench_settings
from rain_guard.cli.options import add_system_options, config_from_args, parse_criterion
from rain_guard.cli.progress import Progress
from rain_guard.decoding import help_lines, method_names
from rain_guard.judging.resolve import criterion_evaluator
from rain_guard.search.config import SearchConfig

# The report's "(b)" setting when (b) is counted in (a)'s search (counts_reference_in_rain).
REFERENCE_IN_RAIN = (
    "counted exactly in (a)'s own search (the same decisions by construction), its forward "
    "passes not run (not timed)"
)


F = "(default: %(default)s)"  # argparse fills in the option's default

DEFAULT_ARMS = ",".join((RAIN, REFERENCE, VANILLA, PAPER_VANILLA))  # without --arms


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` options to ``parser`` (the ``rain-guard bench`` sub-command)."""
    d = SearchConfig()
    parser.add_argument("--model", default="smollm2", help="smollm2 (embedded), fake, path, hub id")
    parser.add_argument(
        "--dataset",
        action="append",
        default=None,
        help=f"prompt set (repeatable; default {' and '.join(DEFAULT_DATASETS)}, dev split)",
    )
    parser.add_argument("--limit", type=int, default=3, help="prompts per dataset (first N)")
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        metavar="K",
        help="start after the first K prompts of each dataset (shards a long run across "
        "processes; bench-merge joins their reports)",
    )
    parser.add_argument(
        "--criterion",
        default="harmless",
        type=parse_criterion,
        help="the search's judge: a self-evaluation criterion, harm_classifier, or a mix "
        "'harmless=1,harm_classifier=4' (default: harmless, the paper's self-evaluation, whose "
        "cost (b) replays)",
    )
    add_system_options(parser)
    parser.add_argument("--seed", type=int, default=d.seed, help=f"seed of every draw {F}")
    parser.add_argument(
        "--max-tokens", type=int, default=32, help="answer tokens at most (all arms)"
    )
    parser.add_argument(
        "--t-min", type=int, default=d.t_min, help=f"iterations before a commit may happen {F}"
    )
    parser.add_argument(
        "--t-max", type=int, default=d.t_max, help=f"iterations after which a commit is forced {F}"
    )
    for which in ("min", "max"):
        parser.add_argument(
            f"--t-{which}-schedule",
            type=int,
            nargs="+",
            metavar="N",
            default=None,
            help=f"t_{which} by commit, the last value repeating (e.g. 50 50 12; default: "
            f"t_{which} for every commit)",
        )
    parser.add_argument(
        "--stop-when-decided",
        action="store_true",
        default=None,
        help="end a commit's search once more iterations cannot change the child it takes "
        "(SearchConfig.stop_when_decided; default: off, T iterations)",
    )
    parser.add_argument(
        "--v-threshold",
        type=float,
        default=d.v_threshold,
        help=f"commit early once the most-visited root child has V >= this {F}",
    )
    parser.add_argument("--candidates", type=int, default=d.num_candidates, help="q per expansion")
    parser.add_argument(
        "--rollout-tokens",
        type=int,
        default=d.rollout_max_tokens,
        help=f"longest roll-out to a sentence boundary, tokens {F}",
    )
    parser.add_argument("--no-similarity", action="store_true", help="skip the embedding update")
    parser.add_argument(
        "--set-lengths",
        type=_int_list,
        default=d.set_lengths,
        help="token-set length by depth, comma list (reference: 1,2,4,10)",
    )
    parser.add_argument(
        "--adaptive",
        action="store_true",
        help="add RAIN with the adaptive budget (with --grid: every RAIN cell uses it)",
    )
    parser.add_argument(
        "--adaptive-min-iterations",
        type=int,
        default=d.adaptive_min_iterations,
        help=f"adaptive budget: root iterations before an early commit {F}",
    )
    parser.add_argument(
        "--adaptive-value",
        type=float,
        default=d.adaptive_value,
        help=f"adaptive budget: the best child's value that allows an early commit {F}",
    )
    parser.add_argument(
        "--adaptive-margin",
        type=float,
        default=d.adaptive_margin,
        help=f"adaptive budget: lead over every other evaluated child {F}",
    )
    parser.add_argument(
        "--no-greedy-first",
        action="store_true",
        help="adaptive arm: propose all q sets at every expansion (default: greedy set first)",
    )
    parser.add_argument(
        "--sampled-rollouts",
        action="store_true",
        help="adaptive arm with greedy first: sample roll-outs as RAIN does (default: greedy)",
    )
    parser.add_argument(
        "--arms",
        default=None,
        help="comma list of arms to run, by name or letter (the report's letters): "
        + help_lines((RAIN, REFERENCE, VANILLA, PAPER_VANILLA))
        + " (adaptive is added by --adaptive; default: "
        + DEFAULT_ARMS
        + "; not with the grid)",
    )
    parser.add_argument(
        "--reference-count-only",
        action="store_true",
        help="(b): count the reference's work exactly without running its forward passes "
        "(no time for (b); for settings where running it would take hours); with the rain "
        "arm, (b) is counted inside (a)'s search, so the two cost one search",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (fixed)")
    parser.add_argument("--device", default=None, help="torch device: cpu (default), cuda")
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "bfloat16", "float16"],
        help="weight dtype (float32: bit-exact cache reuse)",
    )
    parser.add_argument(
        "--max-cached-prefixes",
        type=int,
        default=None,
        metavar="N",
        help="prefix KV caches the model keeps (default 4): memory traded for recompute",
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the report here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_grid_options(parser)
    parser.set_defaults(handler=cmd_bench)


def _int_list(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> ``(1, 2, 4)``, for argparse."""
    try:
        return tuple(int(n) for n in text.split(",") if n.strip())
    except ValueError:
        message = f"expected integers separated by commas: {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the bench and print the markdown report (progress on stderr).

    With ``--grid``, ``--leaves`` or ``--batch`` the (k, B) grid runs instead of the arms
    (``rain_guard.bench.grid_cli``); ``--arms`` and ``--reference-count-only`` are refused
    there, and ``--adaptive`` puts every RAIN cell under the adaptive budget.
    """
    if grid_requested(args):
        from rain_guard.bench.grid_cli import cmd_grid

        return cmd_grid(args)
    import torch

    from rain_guard.backends.loading import load_backend
    from rain_guard.eval import GCGRefusalJudge

    torch.set_num_threads(args.threads)
    arms = method_names(args.arms or DEFAULT_ARMS, ARMS, "--arms")
    datasets = args.dataset or list(DEFAULT_DATASETS)
    config = config_from_args(args)
    items = load_items(datasets, args.limit, args.skip)
    backend = load_backend(
        args.model, num_threads=args.threads, dtype=args.dtype, device=args.device
    )
    if args.max_cached_prefixes is not None and hasattr(backend, "max_cached_prefixes"):
        backend.max_cached_prefixes = args.max_cached_prefixes
    embedder = None
    if not args.no_similarity:
        from rain_guard.search.embeddings import MiniLMEmbedder

        embedder = MiniLMEmbedder()
    bench = Bench(
        backend,
        config,
        evaluator_factory=lambda b: criterion_evaluator(b, args.criterion),
        embedder=embedder,
        adaptive=args.adaptive,
        judge=GCGRefusalJudge(),
        only=[*arms, *([ADAPTIVE] if args.adaptive else [])],
        system=args.system,
        reference_timed=not args.reference_count_only,
    )
    settings = bench_settings(args, backend, config, datasets, len(items))
    settings["arms"] = ", ".join(ARM_TITLES[a] for a in bench.arms)
    if bench.counts_reference_in_rain:
        settings["(b)"] = REFERENCE_IN_RAIN
    total = len(items) * len(bench.arms)

    def report(*, final: bool) -> dict[str, Any]:
        done = f"{len(bench.runs)} of {total}" + ("" if final else " (incomplete)")
        return {**settings, **memory_settings(backend), ANSWERS: done}

    def step(run: ArmRun) -> None:
        bar.answer_done(run.arm)
        if args.json:  # a run stopped or killed later keeps the answers it finished
            write_report(args.json, bench.runs, report(final=False), BENIGN, quiet=True)

    with Progress(total, desc="bench", disable=args.quiet, max_tokens=config.max_new_tokens) as bar:
        bench.on_step = step
        bench.on_search_event = lambda arm, event: bar.search_event(event, arm)
        runs = bench.run(items)
    final = report(final=True)  # one reading of the memory settings for both outputs
    print(markdown(runs, final, BENIGN))
    if args.json:
        write_report(args.json, runs, final, BENIGN)
    return 0
