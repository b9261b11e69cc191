r"""Wall time of RAIN with a T budget by commit against the flat budget and greedy decoding.

Per prompt, in one process and interleaved (greedy, RAIN flat, RAIN scheduled, then the next
prompt), so that a change in the machine's load hits every method alike; the ratios come
from the same run. Settings: the reference search (t_min 6, t_max 50, q 10), ``--leaves`` k,
the model's default judge, ``--max-tokens`` answer tokens; the schedule is
``--t-max-schedule`` (default 50 50 12: the reference budget for the first two commits, where
the eval's verdicts were decided, and 12 iterations after).

    .venv/bin/python benchmarks/schedule_cost.py --dataset advbench --limit 6 --threads 1

``--arm NAME FIELD=VALUE ...`` adds a RAIN arm: the scheduled search with those
``SearchConfig`` fields changed (e.g. ``--arm decided stop_when_decided=true``); ``--no-flat``
leaves the flat arm out.

Prints one line per answer and a table of mean seconds, forward calls and model tokens per
answer, with each RAIN arm's ratio to greedy decoding, the schedule's to the flat budget and
each added arm's to the schedule.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

from rain_guard.backends.loading import load_backend
from rain_guard.decoding import METHODS, DecodingContext
from rain_guard.errors import ConfigError
from rain_guard.eval import load_dataset
from rain_guard.judging.resolve import criterion_evaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import shared_minilm
from rain_guard.search.inputs import prompt_turns


def main(argv: list[str] | None = None) -> int:
    """Answer every prompt with every arm, interleaved, then print the table."""
    args = parse(argv)
    configs = arm_configs(args)
    backend = load_backend(args.model, num_threads=args.threads)
    judge = criterion_evaluator(backend)  # the model's default judge

    def evaluator_for(model: Any) -> Any:
        return judge

    rows: dict[str, list[dict[str, Any]]] = {arm: [] for arm in configs}
    for item in load_dataset(args.dataset, split="dev", limit=args.limit):
        for arm in configs:
            method = METHODS["vanilla" if arm == "greedy" else "rain"]
            context = DecodingContext(
                backend, configs[arm], evaluator_for=evaluator_for, embedder=shared_minilm()
            )
            r = method.run(context, prompt_turns(item.prompt)).result
            row = {"seconds": r.seconds, "calls": r.counters.get("forward_calls", 0),
                   "tokens": r.counters.get("tokens_processed", 0), "text": r.text}  # fmt: skip
            rows[arm].append(row)
            line = f"{item.dataset} {item.index} {arm}: {r.seconds:.1f} s, {row['calls']} calls"
            print(f"{line}, {row['tokens']} tokens: {r.text[:60]!r}", file=sys.stderr, flush=True)
    print(table(rows, args))
    return 0


def arm_configs(args: argparse.Namespace) -> dict[str, SearchConfig]:
    """Arm name -> search settings: greedy, flat (unless ``--no-flat``), schedule, added arms.

    Raises:
        ConfigError: an added arm's field or value is not a valid ``SearchConfig`` setting.
    """
    flat = SearchConfig(max_new_tokens=args.max_tokens, parallel_leaves=args.leaves)
    schedule = flat.replace(t_max_schedule=tuple(args.t_max_schedule))
    configs = {"greedy": flat, "flat": flat, "schedule": schedule}
    if args.no_flat:
        del configs["flat"]
    for name, *settings in args.arm:
        if name in configs or not settings or any("=" not in s for s in settings):
            raise ConfigError(f"--arm {name}: a new arm name, then FIELD=VALUE settings")
        configs[name] = schedule.replace(**dict(s.split("=", 1) for s in settings))
    return configs


def table(rows: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> str:
    """Markdown: mean cost per answer by arm; ratios to greedy, schedule / flat, arm / schedule."""
    keys = ("seconds", "calls", "tokens")
    mean = {arm: {k: statistics.mean(r[k] for r in got) for k in keys} for arm, got in rows.items()}
    n = len(rows["greedy"])
    schedule = " ".join(map(str, args.t_max_schedule))
    out = [f"{args.dataset} dev, first {n} prompts; schedule {schedule}, k = {args.leaves}"
           f", {args.max_tokens} tokens", "",
           "| arm | s / answer | calls / answer | tokens / answer | s vs greedy "
           "| same answer as schedule |",
           "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for arm, m in mean.items():
        ratio = m["seconds"] / mean["greedy"]["seconds"]
        same = sum(a["text"] == b["text"] for a, b in zip(rows[arm], rows["schedule"], strict=True))
        shown = "-" if arm == "greedy" else f"{same}/{n}"
        out.append(f"| {arm} | {m['seconds']:.1f} | {m['calls']:.0f} | {m['tokens']:,.0f} | "
                   f"{ratio:.1f}x | {shown} |")  # fmt: skip
    pairs = [("schedule", "flat")] if "flat" in mean else []
    pairs += [(a, "schedule") for a in mean if a not in ("greedy", "flat", "schedule")]
    for arm, base in pairs:
        ratios = {k: mean[arm][k] / mean[base][k] for k in keys}
        out.append(f"\n{arm} / {base}: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    return "\n".join(out)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2")
    p.add_argument("--dataset", default="advbench")
    p.add_argument("--limit", type=int, default=6, help="first N dev prompts")
    p.add_argument("--leaves", type=int, default=4, help="parallel leaves k (default 4)")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--t-max-schedule", type=int, nargs="+", default=[50, 50, 12])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-flat", action="store_true", help="leave the flat-budget arm out")
    p.add_argument(
        "--arm",
        nargs="+",
        action="append",
        default=[],
        metavar="NAME FIELD=VALUE",
        help="an added RAIN arm: the schedule with these SearchConfig fields changed",
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
