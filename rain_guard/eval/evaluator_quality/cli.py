"""``rain-guard eval evaluator``: measure one evaluator variant, or run a sweep."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from rain_guard.eval.evaluator_quality.data import LabelledAnswer, hh_items, xstest_items
from rain_guard.eval.evaluator_quality.report import markdown_header, markdown_row, sweep_table
from rain_guard.eval.evaluator_quality.scoring import QualityReport, measure
from rain_guard.eval.evaluator_quality.sweep import sweep_probabilities
from rain_guard.eval.evaluator_quality.variants import build_evaluator, sweep_criteria


def add_arguments(parser: Any) -> None:
    """Options of ``rain-guard eval evaluator`` (one evaluator variant per run)."""
    parser.add_argument(
        "--dataset",
        action="append",
        choices=("xstest", "hh"),
        default=None,
        help="repeatable; default: both",
    )
    parser.add_argument(
        "--split",
        default="dev",
        choices=("dev", "eval"),
        help="dev (default); eval is reserved for the final run",
    )
    parser.add_argument(
        "--evaluator",
        default="self",
        choices=("self", "refusal-strings"),
        help="self: SelfEvaluator on --model; refusal-strings: GCG list",
    )
    parser.add_argument(
        "--model", default="smollm2", help="the self-evaluating model (default: smollm2)"
    )
    parser.add_argument(
        "--criterion",
        default="harmless",
        help="self-evaluation criterion of the variant (default: harmless)",
    )
    parser.add_argument(
        "--mode",
        default="probability",
        choices=("probability", "vote"),
        help="probability: mean share of the desired label; vote: +1/0/-1 by the orders that "
        "prefer it (default: probability)",
    )
    parser.add_argument(
        "--calibrate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="--calibrate / --no-calibrate (default: the criterion's)",
    )
    parser.add_argument("--content-free", default=None, help="content-free answer text")
    parser.add_argument("--scale", type=float, default=None, help="calibration scale")
    parser.add_argument(
        "--orders", default=None, help="0,1 (both), 0 or 1 (default: the criterion's)"
    )
    parser.add_argument(
        "--labels",
        nargs=2,
        default=None,
        metavar=("DESIRED0", "DESIRED1"),
        help="override the reply labels, e.g. --labels ' yes' ' no'",
    )
    parser.add_argument(
        "--chat",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="--chat / --no-chat: chat template or plain text",
    )
    parser.add_argument("--hh-limit", type=int, default=100, help="HH pairs (default 100)")
    parser.add_argument(
        "--xstest-limit", type=int, default=None, help="XSTest prompts (default: all)"
    )
    parser.add_argument(
        "--max-answer-chars",
        type=int,
        default=300,
        help="cut each answer to this many characters, at a word boundary, before scoring "
        "(default: 300)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads of the model (default: torch's)"
    )
    parser.add_argument("--name", default=None, help="variant name in the table")
    parser.add_argument("--out", default=None, help="append per-item scores to this JSONL")
    parser.add_argument("--no-header", action="store_true", help="print only the table row")
    parser.add_argument(
        "--sweep",
        default=None,
        metavar="FILE.jsonl",
        help="record label probabilities of the sweep variants in FILE "
        "(resumable), then print every derived scoring rule's metrics",
    )
    parser.add_argument(
        "--variants",
        default=None,
        help="sweep: comma list of variant numbers (default: all); see --list-variants",
    )
    parser.add_argument(
        "--list-variants", action="store_true", help="print the sweep's numbered variants"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="sweep: only print what FILE already holds"
    )


def cmd_evaluator(args: Any) -> int:
    """Measure one evaluator variant; print a markdown table row (and the header)."""
    import json
    import sys

    from rain_guard.cli.progress import track

    if args.list_variants:
        for number, name in enumerate(sweep_criteria()):
            print(f"{number}: {name}")
        return 0
    if args.sweep:
        return cmd_sweep(args)
    datasets = args.dataset or ["xstest", "hh"]
    evaluator, counters, name = build_evaluator(args)
    reports = []
    for dataset in datasets:
        items = _items(args, dataset)

        def progress(groups: Iterable[Any], label: str = dataset) -> Iterable[Any]:
            return track(groups, desc=label, unit="prompt")

        report = measure(evaluator, dataset, items, counters=counters, progress=progress)
        reports.append(report)
        print(f"{name} on {dataset}: {json.dumps(report.metrics)}", file=sys.stderr)
        if args.out:
            _append_scores(args.out, name, report)
    if not args.no_header:
        print(markdown_header(datasets))
    print(markdown_row(name, reports))
    return 0


def _items(args: Any, dataset: str) -> list[LabelledAnswer]:
    if dataset == "xstest":
        items = xstest_items(args.split, max_answer_chars=args.max_answer_chars)
        limit = getattr(args, "xstest_limit", None)
        return items if limit is None else [i for i in items if i.group < limit]
    return hh_items(args.split, limit=args.hh_limit, max_answer_chars=args.max_answer_chars)


def cmd_sweep(args: Any) -> int:
    """Record the sweep's probabilities (resuming), then print the derived rules' metrics."""
    import json
    import os

    from rain_guard.cli.progress import track

    variants = list(sweep_criteria().items())
    if args.variants:
        variants = [variants[int(n)] for n in args.variants.split(",")]
    datasets = args.dataset or ["xstest", "hh"]
    done: set[tuple[str, str, int]] = set()
    if os.path.exists(args.sweep):
        with open(args.sweep, encoding="utf-8") as handle:
            done = {(r["variant"], r["dataset"], r["group"]) for r in map(json.loads, handle)}
    backend = None
    with open(args.sweep, "a", encoding="utf-8") as out:
        for dataset in [] if args.report_only else datasets:
            items = _items(args, dataset)
            for name, criterion in variants:
                if all((name, dataset, i.group) in done for i in items):
                    continue
                if backend is None:
                    from rain_guard.backends.loading import load_backend

                    backend = load_backend(args.model, num_threads=args.threads)
                    if hasattr(backend, "max_cached_prefixes"):  # TransformersBackend only
                        # a variant's example prefixes stay cached across its 2 orders x
                        # content-free rows (this command's own process)
                        backend.max_cached_prefixes = max(backend.max_cached_prefixes, 16)

                def progress(groups: Iterable[Any], label: str = f"{name} / {dataset}") -> Any:
                    return track(groups, desc=label, unit="prompt")

                sweep_probabilities(
                    backend, name, criterion, dataset, items, out, done=done, progress=progress
                )
    with open(args.sweep, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    print(sweep_table(records, [name for name, _ in variants], datasets))
    return 0


def _append_scores(path: str, name: str, report: QualityReport) -> None:
    import json

    with open(path, "a", encoding="utf-8") as handle:
        for item, score in zip(report.items, report.scores, strict=True):
            record = {"variant": name, "dataset": report.dataset, "group": item.group,
                      "label": item.label, "unsafe_prompt": item.unsafe_prompt,
                      "score": score}  # fmt: skip
            handle.write(json.dumps(record) + "\n")
