"""``rain-guard bench --grid`` / ``--leaves`` / ``--batch``: the (k, B) grid on the command line.

    rain-guard bench --grid --limit 4 --threads 1 --resume grid.jsonl --json grid.json

One process, one model, the same thread count in every arm; each cell's greedy baseline and
RAIN searches as in ``rain_guard.bench.grid``. With ``--adaptive`` every RAIN cell searches
under the adaptive budget (``SearchConfig.adaptive_commit`` and the ``--adaptive-*`` values).
The markdown table goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rain_guard.bench.grid import (
    GRID_BATCHES,
    GRID_LEAVES,
    MAX_BATCH,
    Grid,
    GridCell,
    check_grid,
    load_cells,
    save_cell,
)
from rain_guard.bench.grid_report import cell_row, markdown, write_json
from rain_guard.errors import ConfigError


def add_grid_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--leaves``, ``--batch``, ``--grid`` and ``--resume`` to the bench's parser."""
    parser.add_argument(
        "--leaves",
        type=int,
        nargs="+",
        metavar="K",
        default=None,
        help="grid: parallel leaves per pass to measure (k; SearchConfig.parallel_leaves)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        nargs="+",
        metavar="B",
        default=None,
        help=f"grid: searches open at once, sharing forward calls (B, 1..{MAX_BATCH}; "
        "B = 1 always runs: batched answers are checked against it)",
    )
    parser.add_argument(
        "--grid",
        action="store_true",
        help="shorthand for --leaves 1 4 8 --batch 1 4 8 (the given option wins)",
    )
    parser.add_argument(
        "--resume",
        metavar="FILE",
        default=None,
        help="grid: JSONL of finished cells; cells in it are not run again, new ones appended",
    )


def grid_requested(args: argparse.Namespace) -> bool:
    """Whether the options ask for the grid (else the arms bench runs).

    Raises:
        ConfigError: ``--resume`` without a grid option, or ``--arms`` or
            ``--reference-count-only`` with one (the grid runs greedy and RAIN only).
    """
    wanted = bool(args.grid or args.leaves or args.batch)
    if args.resume and not wanted:
        raise ConfigError("--resume needs --grid, --leaves or --batch")
    arms_only = {"--arms": args.arms, "--reference-count-only": args.reference_count_only}
    for flag, given in arms_only.items():
        if wanted and given:
            raise ConfigError(f"{flag} applies to the arms bench, not to the grid")
    return wanted


def grid_values(args: argparse.Namespace) -> tuple[list[int], list[int]]:
    """The k and B values the options ask for (checked, B = 1 added)."""
    leaves = args.leaves or (list(GRID_LEAVES) if args.grid else [1])
    batches = args.batch or (list(GRID_BATCHES) if args.grid else [1])
    return check_grid(leaves, batches)


def cmd_grid(args: argparse.Namespace) -> int:
    """Run the grid and print its markdown table (cell progress on stderr)."""
    import torch

    from rain_guard.backends.loading import load_backend
    from rain_guard.bench.items import load_items
    from rain_guard.bench.machine import peak_rss_bytes
    from rain_guard.bench.settings import DEFAULT_DATASETS, bench_settings
    from rain_guard.cli.options import config_from_args
    from rain_guard.judging.resolve import criterion_evaluator

    leaves, batches = grid_values(args)
    config = config_from_args(args)
    if args.adaptive:  # every RAIN cell searches under the adaptive budget
        config = config.replace(adaptive_commit=True)
    datasets = args.dataset or list(DEFAULT_DATASETS)
    items = load_items(datasets, args.limit, args.skip)
    torch.set_num_threads(args.threads)
    backend = load_backend(
        args.model, num_threads=args.threads, dtype=args.dtype, device=args.device
    )
    settings = bench_settings(args, backend, config, datasets, len(items))
    settings.pop("(b)", None)
    settings["max_new_tokens"] = config.max_new_tokens
    settings["grid"] = f"k in {leaves}, B in {batches}"
    settings["greedy"] = "KV cache, one answer at a time, rerun in every cell before RAIN"
    fingerprint = _fingerprint(settings, config, items)
    done = load_cells(args.resume, fingerprint) if args.resume else []
    if done:
        settings["resumed cells"] = ", ".join(f"k {c.k} B {c.batch}" for c in done)
    finished: list[GridCell] = list(done)

    def on_cell(cell: GridCell) -> None:
        finished.append(cell)
        if args.resume:
            save_cell(args.resume, fingerprint, cell)
        if args.json:
            write_json(args.json, finished, settings)
        if not args.quiet:
            r = cell_row(cell)
            print(
                f"cell k {cell.k} B {cell.batch}: {r['seconds']:.1f} s, "
                f"{r['seconds_per_token']:.3f} s/token, "
                f"{r['forward_calls_per_token']:.2f} calls/token",
                file=sys.stderr,
            )

    grid = Grid(
        backend,
        config,
        leaves,
        batches,
        evaluator_factory=lambda b: criterion_evaluator(b, args.criterion),
        embedder=_embedder(args),
        on_cell=on_cell,
    )
    cells = grid.run(items, done)
    settings["process peak RSS"] = f"{peak_rss_bytes() / 1e6:.0f} MB (this process: all its cells)"
    print(markdown(cells, settings))
    if args.json:
        write_json(args.json, cells, settings)
    return 0


def _embedder(args: argparse.Namespace) -> Any:
    from rain_guard.search.embeddings import shared_minilm

    return None if args.no_similarity else shared_minilm()


def _fingerprint(settings: dict[str, Any], config: Any, items: list[Any]) -> dict[str, Any]:
    """What a resumed cell must share with this run: model, machine settings, search, prompts."""
    search = config.model_dump(mode="json")
    search.pop("parallel_leaves", None)
    keep = ("model", "device", "dtype", "threads", "criterion", "system message")
    return {
        **{k: str(settings.get(k)) for k in keep},
        "batching": "pool",  # B searches open at once, refilled from the queue (run_pooled)
        "search": search,
        "prompts": [f"{it.dataset}#{it.index}" for it in items],
    }
