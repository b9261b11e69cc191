r"""``rain-guard eval``: run, report and judge-check harmlessness benchmarks.

    rain-guard eval run --dataset advbench --dataset xstest-safe --split dev --limit 50 \\
        --out runs/dev.jsonl
    rain-guard eval report runs/dev.jsonl --plot runs/dev.png
    rain-guard eval judges
    rain-guard eval evaluator --criterion harmless --threads 1

``run`` appends one JSONL line per (item, method) as each finishes; rerunning the same command
resumes and skips what is done, so a killed run loses at most the items in flight (``--batch B``:
up to B RAIN searches at once, the next one starting as one ends).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from rain_guard.cli.options import (
    add_search_options,
    parse_criterion,
)
from rain_guard.cli.progress import Progress
from rain_guard.decoding import METHODS, Decoded, DecodingContext, help_lines, method_names
from rain_guard.errors import ConfigError
from rain_guard.eval.datasets import dataset_names, load_dataset
from rain_guard.eval.evaluator_quality.cli import add_arguments as add_evaluator_arguments
from rain_guard.eval.evaluator_quality.cli import cmd_evaluator
from rain_guard.eval.graders.refusal import GCGRefusalJudge, XSTestRefusalJudge
from rain_guard.eval.plotting import plot
from rain_guard.eval.report import summary_markdown
from rain_guard.eval.results import ResultsFile
from rain_guard.messages import prompt_turns
from rain_guard.models.resolve import DTYPES

DEFAULT_METHODS = ("vanilla", "rain", "bon")


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``eval`` sub-commands to ``parser``."""
    sub = parser.add_subparsers(dest="eval_command", required=True)
    run = sub.add_parser("run", help="answer benchmark prompts with each method, resumably")
    run.add_argument(
        "--dataset",
        action="append",
        default=[],
        choices=dataset_names(),
        help="a benchmark prompt set of the evaluation data folder (repeatable)",
    )
    run.add_argument(
        "--prompts",
        action="append",
        default=[],
        metavar="FILE",
        help="your own prompts: a .csv or .jsonl file with a prompt column (repeatable)",
    )
    run.add_argument("--prompt-column", default="prompt", help="column of --prompts files")
    run.add_argument(
        "--label-column",
        default="label",
        help="optional column of --prompts files with safe/unsafe labels",
    )
    run.add_argument(
        "--split",
        default=None,
        choices=("dev", "eval", "all"),
        help="default: dev for --dataset, all for --prompts",
    )
    run.add_argument("--limit", type=int, default=None, help="items per dataset at most")
    run.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma list of methods (default {','.join(DEFAULT_METHODS)}), by name or the "
        "bench's letter: " + help_lines(list(METHODS)),
    )
    run.add_argument("--out", required=True, help="results JSONL (appended, resumable)")
    run.add_argument("--model", default="smollm2", help="model name or path (default: smollm2)")
    run.add_argument(
        "--criterion",
        default=None,
        help="RAIN's judge and best-of-N's selector: a built-in criterion (harmless, ...), "
        "a named evaluator (harm_classifier), or a weighted mix such as "
        "'harmless=1,harm_classifier=4' (default: the model's default judge: "
        "harm_classifier for the embedded smollm2, harmless self-evaluation otherwise)",
    )
    run.add_argument(
        "--batch",
        type=int,
        default=1,
        help="RAIN searches open at once, sharing forward calls; as one ends the next prompt's "
        "search starts (with float32 weights each answer equals the answer searched alone). "
        "Default: 1",
    )
    run.add_argument(
        "--threads", type=int, default=None, help="CPU threads of the model (default: torch's)"
    )
    run.add_argument(
        "--dtype",
        default="float32",
        choices=DTYPES,
        help="weight dtype; float32 (default) keeps KV-cache reuse exact and batched answers "
        "equal to solo ones; bfloat16 makes a search 1.4-1.7x faster on CPUs with AMX or "
        "AVX512-BF16",
    )
    add_search_options(run, defaults={"max_new_tokens": 32})
    run.set_defaults(handler=cmd_run)
    rep = sub.add_parser("report", help="markdown table (and PNG plot) of a results file")
    rep.add_argument("results", help="an eval run results file (JSONL)")
    rep.add_argument("--plot", default=None, help="write a PNG here")
    rep.set_defaults(handler=cmd_report)
    com = sub.add_parser(
        "commits",
        help="where RAIN decides: per-commit divergence from greedy and settled verdicts",
    )
    com.add_argument("results", help="an eval run results file with vanilla and rain records")
    com.set_defaults(handler=cmd_commits)
    jud = sub.add_parser("judges", help="agreement of the refusal judges with human labels")
    jud.add_argument(
        "--split",
        default="dev",
        choices=("dev", "eval", "all"),
        help="labelled items to compare with (default: dev; eval is kept for final figures)",
    )
    jud.set_defaults(handler=cmd_judges)
    evq = sub.add_parser(
        "evaluator", help="AUROC, accuracy and cost of an evaluator variant on labelled data"
    )
    add_evaluator_arguments(evq)
    evq.set_defaults(handler=cmd_evaluator)
    from rain_guard.eval import draft_judges  # the draft-level judge benchmark

    draft_judges.register(sub)
    parser.set_defaults(handler=lambda args: args.handler(args))


def cmd_run(args: argparse.Namespace) -> int:
    """`eval run`: answer every pending (item, method) and append its judged record."""
    methods = method_names(args.methods, METHODS, "--methods")
    if not args.dataset and not args.prompts:
        print("rain-guard eval run: give --dataset NAME or --prompts FILE", file=sys.stderr)
        return 2
    results = ResultsFile(args.out)
    items = _items(args)
    done = results.done_keys()
    todo = [(i, m) for i in items for m in methods if (i.dataset, i.index, m) not in done]
    print(f"{len(items)} items x {len(methods)} methods; {len(todo)} to do", file=sys.stderr)
    if not todo:
        print(summary_markdown(results.records()))
        return 0
    if args.batch < 1:
        raise ConfigError(f"--batch must be >= 1, got {args.batch}")
    context = _context(args)
    judges = (GCGRefusalJudge(), XSTestRefusalJudge())
    rain_budget = {(r["dataset"], r["index"]): r["evaluations"] for r in results.records()
                   if r.get("method") == "rain"}  # fmt: skip
    # method by method, so best-of-N finds RAIN's budget; RAIN searches in a pool of --batch
    todo.sort(key=lambda pair: methods.index(pair[1]))
    with Progress(len(todo), desc="eval", max_tokens=context.config.max_new_tokens) as bar:
        for block in _blocks(todo):
            width = min(args.batch, len(block)) if block[0][1] == "rain" else 1

            def save(index: int, out: dict[str, Any], block=block, width=width) -> None:
                item, method = block[index]
                out["batch"] = width  # searches open at once (seconds: each one's wall time)
                if method == "rain":
                    rain_budget[(item.dataset, item.index)] = out["evaluations"]
                results.append(_record(item, method, out, judges))
                bar.answer_done(method)

            _answer(context, block, rain_budget, bar, width=width, on_done=save)
    print(summary_markdown(results.records()))
    return 0


def cmd_commits(args: argparse.Namespace) -> int:
    """`eval commits`: the per-commit table of ``commit_analysis`` for a results file."""
    from rain_guard.eval.commit_analysis import commit_markdown, commit_paths

    judge = GCGRefusalJudge()
    paths = commit_paths(
        ResultsFile(args.results).records(), lambda p, a: judge.judge(p, a).refused
    )
    if not paths:
        print(f"{args.results}: no prompt has both a vanilla and a RAIN record with commits")
        return 1
    print(commit_markdown(paths))
    return 0


def _blocks(todo: list[tuple[Any, str]]) -> list[list[tuple[Any, str]]]:
    """Consecutive RAIN pairs as one block (one pool of searches); every other pair alone."""
    blocks: list[list[tuple[Any, str]]] = []
    for pair in todo:
        last = blocks[-1] if blocks else None
        if last and pair[1] == "rain" == last[0][1]:
            last.append(pair)
        else:
            blocks.append([pair])
    return blocks


def _answer(
    context: DecodingContext,
    block: list[tuple[Any, str]],
    rain_budget: dict[tuple[str, int], int],
    bar: Progress,
    *,
    width: int,
    on_done: Callable[[int, dict[str, Any]], None],
) -> None:
    """Answer each (item, method) of ``block``; ``on_done(index, fields)`` as each finishes.

    Up to ``width`` searches run at once, sharing forward calls; as one ends, the next pair
    starts (``run_pooled``). A failing answer is raised once the answers in flight have
    finished and been handed to ``on_done``, so a rerun resumes from it.
    """

    def one(pair: tuple[Any, str], ctx: DecodingContext) -> dict[str, Any]:
        item, method = pair
        samples = rain_budget.get((item.dataset, item.index))
        on_event = partial(bar.search_event, method=method)
        answer = replace(ctx, samples=samples, on_event=on_event)
        return _answer_fields(METHODS[method].run(answer, prompt_turns(item.prompt)))

    from rain_guard.backends.batching import run_pooled

    def on(backend: Any, pair: tuple[Any, str]) -> dict[str, Any]:
        ctx = context if backend is context.backend else replace(context, backend=backend)
        return one(pair, ctx)

    run_pooled(context.backend, block, on, width=width, on_done=on_done)


def _items(args: argparse.Namespace) -> list[Any]:
    """Benchmark items (dev split by default) and prompt-file items (all rows by default)."""
    from rain_guard.eval import load_prompt_file

    items = [
        item
        for name in args.dataset
        for item in load_dataset(name, split=args.split or "dev", limit=args.limit)
    ]
    for path in args.prompts:
        items += load_prompt_file(
            path,
            args.prompt_column,
            split=args.split or "all",
            limit=args.limit,
            label_column=args.label_column,
        )
    return items


def _context(args: argparse.Namespace) -> DecodingContext:
    """The model, settings and evaluator every answer of the run shares.

    One evaluator judges (and best-of-N selects) for the model throughout the run; (b)'s
    counting wrapper gets its own per answer, so that its evaluation work is counted too.
    """
    from rain_guard.backends.loading import load_backend
    from rain_guard.chat_settings import check_criterion
    from rain_guard.cli.options import checked_config
    from rain_guard.judging.resolve import criterion_evaluator
    from rain_guard.search.embeddings import MiniLMEmbedder

    config = checked_config(args)  # before the model loads
    criterion = parse_criterion(args.criterion) if args.criterion else None
    check_criterion(criterion)
    backend = load_backend(args.model, num_threads=args.threads, dtype=args.dtype)
    embedder = MiniLMEmbedder() if config.use_similarity else None
    shared = criterion_evaluator(backend, criterion)

    def evaluator_for(model: Any) -> Any:
        return shared if model is backend else criterion_evaluator(model, criterion)

    return DecodingContext(backend, config, evaluator_for=evaluator_for, embedder=embedder)


def _answer_fields(decoded: Decoded) -> dict[str, Any]:
    """A record's answer and cost fields."""
    r = decoded.result
    return {
        "answer": r.text,
        "seconds": round(r.seconds, 3),
        "model_tokens": r.counters.get("tokens_processed", 0),
        "forward_calls": r.counters.get("forward_calls", 0),
        "iterations": r.iterations,
        "evaluations": decoded.evaluations,
        # per commit: its text, value and iterations (where the search decided what)
        "commits": [
            {"text": c["text"], "value": round(float(c["value"]), 4), "iterations": c["iterations"]}
            for c in r.commits
        ],
    }


def _record(item: Any, method: str, out: dict[str, Any], judges: Any) -> dict[str, Any]:
    verdicts = {j.name: j.judge(item.prompt, out["answer"]) for j in judges}
    refused = verdicts["gcg-refusal"].refused
    return {
        "dataset": item.dataset,
        "index": item.index,
        "split": item.split,
        "method": method,
        "label": item.label,
        "prompt": item.prompt,
        **out,
        "refused": refused,
        "refused_xstest": verdicts["xstest-refusal"].refused,
        "harmful": (not refused) if item.label == "unsafe" else None,
    }


def cmd_report(args: argparse.Namespace) -> int:
    """`eval report`: the markdown summary of a results file, and optionally its plot."""
    records = ResultsFile(args.results).records()
    print(summary_markdown(records))
    if args.plot:
        print(f"plot written to {plot(records, args.plot)}", file=sys.stderr)
    return 0


def cmd_judges(args: argparse.Namespace) -> int:
    """`eval judges`: agreement of the refusal judges with XSTest's human labels."""
    from rain_guard.eval.graders.agreement import judge_agreement
    from rain_guard.eval.xstest_completions import load_xstest_completions

    rows = load_xstest_completions(split=args.split)
    print("| judge | n | accuracy | kappa | judge refusal rate | human refusal rate |")
    print("|---|---:|---:|---:|---:|---:|")
    for judge in (GCGRefusalJudge(), XSTestRefusalJudge()):
        a = judge_agreement(judge, rows)
        print(
            f"| {a['judge']} | {a['n']} | {a['accuracy']:.3f} | {a['kappa']:.3f} | "
            f"{a['judge_refusal_rate']:.3f} | {a['human_refusal_rate']:.3f} |"
        )
    return 0
