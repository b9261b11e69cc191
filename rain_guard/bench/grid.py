"""The bench's grid: RAIN's cost for each (parallel leaves k, batched searches B), resumable.

``rain-guard bench --grid`` (or ``--leaves K ... --batch B ...``) runs, in one process, one
cell per (k, B): greedy decoding with a KV cache answers the cell's prompts (the baseline,
run again in every cell so that a busy machine slows both alike), then RAIN with
``parallel_leaves = k`` answers them in one pool of B searches open at once that share
forward calls (``run_pooled`` on a ``SharedBatch``, as ``eval run --batch`` does): as one
search ends, the next prompt's starts, so B searches stay open while prompts are left.
B = 1 is always run: its answers are what each batched answer is checked against (the same
request searched alone, same seed, same k).

A cell's wall time is the time of its pool from the first search's start to the last one's
end (the searches overlap, so the sum of their own times would count the shared calls B
times); its forward calls are the shared backend's (a merged call counts once). Finished
cells are appended to a JSONL file (``--resume FILE``), so a killed grid continues where it
stopped; a file of cells measured in fixed groups of B is refused (its fingerprint lacks
``batching: pool``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from typing import Any

from rain_guard.backends.base import Backend
from rain_guard.backends.batching import run_pooled
from rain_guard.bench.arms import RAIN, VANILLA, ArmRun
from rain_guard.bench.items import Item
from rain_guard.bench.runner import Bench, arm_run_from
from rain_guard.decoding import METHODS, DecodingContext
from rain_guard.errors import ConfigError
from rain_guard.judging.evaluator import Evaluator
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.messages import prompt_turns
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import Embedder

GRID_LEAVES = (1, 4, 8)
GRID_BATCHES = (1, 4, 8)
MAX_BATCH = 64  # searches open at once at most (each holds its own tree and caches)


def check_grid(leaves: Sequence[int], batches: Sequence[int]) -> tuple[list[int], list[int]]:
    """The grid's k and B values, sorted and without repeats; B = 1 added when missing.

    Raises:
        ConfigError: no values, or a k outside SearchConfig's ``parallel_leaves`` range
            (named ``--leaves``), or a B outside 1..``MAX_BATCH`` (named ``--batch``).
    """
    if not leaves or not batches:
        raise ConfigError("--leaves and --batch need at least one value each")
    for k in leaves:
        if isinstance(k, bool) or not isinstance(k, int):
            raise ConfigError(f"--leaves: each k must be an integer, got {k!r}")
        try:
            SearchConfig(parallel_leaves=k)
        except ConfigError as exc:
            raise ConfigError(f"--leaves: {k!r} is not a valid parallel_leaves ({exc})") from exc
    for b in batches:
        if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= MAX_BATCH:
            raise ConfigError(f"--batch: each B must be an integer in 1..{MAX_BATCH}, got {b!r}")
    return sorted(set(leaves)), sorted({1, *batches})


@dataclass
class GridCell:
    """One (k, B) cell: RAIN's answers and the greedy baseline's, on the same prompts.

    Attributes:
        k: Parallel leaves of every search in the cell.
        batch: Searches open at once (B), asked for.
        runs: RAIN's answers (each with its own share of the shared calls' work).
        greedy: Greedy decoding's answers (KV cache, one at a time).
        seconds: Wall time of RAIN's pool of searches.
        forward_calls: Model calls of RAIN's searches (a merged call counts once).
        tokens_processed: Token positions RAIN's searches fed the model.
        width: Searches open at once while prompts were left: ``min(batch, prompts)``;
            fewer only once the queue is empty.
    """

    k: int
    batch: int
    runs: list[ArmRun] = field(default_factory=list)
    greedy: list[ArmRun] = field(default_factory=list)
    seconds: float = 0.0
    forward_calls: int = 0
    tokens_processed: int = 0
    width: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return (self.k, self.batch)

    @property
    def answer_tokens(self) -> int:
        return sum(r.answer_tokens for r in self.runs)

    @property
    def greedy_seconds(self) -> float:
        return sum(r.seconds for r in self.greedy)

    @property
    def greedy_tokens(self) -> int:
        return sum(r.answer_tokens for r in self.greedy)

    def to_json(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GridCell:
        out = cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        out.runs = [ArmRun(**r) for r in data.get("runs", [])]
        out.greedy = [ArmRun(**r) for r in data.get("greedy", [])]
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [asdict(v) if isinstance(v, ArmRun) else v for v in value]
    return value


@dataclass
class Grid:
    """Runs the grid's cells on one backend.

    Attributes:
        backend: The shared model.
        config: RAIN settings; each cell replaces ``parallel_leaves`` with its k.
        leaves: The k values (checked by ``check_grid``).
        batches: The B values (1 included).
        evaluator_factory: A fresh evaluator per search, built on the search's backend view.
        embedder: Sentence encoder of the similarity update (None: off).
        max_wait: Seconds a batched call waits for the other open searches.
        on_cell: Called with each finished cell (saving, progress).
    """

    backend: Backend
    config: SearchConfig
    leaves: Sequence[int]
    batches: Sequence[int]
    evaluator_factory: Callable[[Backend], Evaluator] = SelfEvaluator
    embedder: Embedder | None = None
    max_wait: float = 30.0
    on_cell: Callable[[GridCell], None] | None = None

    def run(self, items: Sequence[Item], done: Sequence[GridCell] = ()) -> list[GridCell]:
        """Every cell, k by k and B ascending; cells in ``done`` are kept, not run again."""
        finished = {cell.key: cell for cell in done}
        for item in items:  # every prompt seen once first: word ids of FakeBackend stay fixed
            self.backend.chat_prompt_ids(prompt_turns(item.prompt))
        cells = []
        for k in self.leaves:
            for b in self.batches:
                cell = finished.get((k, b))
                if cell is None:
                    cell = self.run_cell(k, b, items)
                    if self.on_cell is not None:
                        self.on_cell(cell)
                cells.append(cell)
        return cells

    def run_cell(self, k: int, batch: int, items: Sequence[Item]) -> GridCell:
        """Greedy on every item, then RAIN (k leaves) with ``batch`` searches open at once."""
        config = self.config.replace(parallel_leaves=k)
        greedy_bench = Bench(self.backend, config, only=[VANILLA])
        cell = GridCell(k, batch, greedy=[greedy_bench.run_arm(VANILLA, it) for it in items])
        cell.width = min(batch, len(items))
        before = self.backend.counters.snapshot()
        start = time.perf_counter()
        cell.runs = self._pool(config, list(items), cell.width)
        cell.seconds = time.perf_counter() - start
        delta = self.backend.counters.since(before)
        cell.forward_calls = delta.get("forward_calls", 0)
        cell.tokens_processed = delta.get("tokens_processed", 0)
        return cell

    def _pool(self, config: SearchConfig, items: list[Item], width: int) -> list[ArmRun]:
        """RAIN's answers to ``items``: one by one, or ``width`` at once on a ``SharedBatch``.

        The backend's prefix cache is cleared first (pinned prefixes kept), so every cell
        starts from the same cache.
        """
        clear = getattr(self.backend, "clear_cache", None)
        if clear is not None:
            clear(keep_pinned=True)
        search = partial(self._search, config=config)
        return run_pooled(self.backend, items, search, width=width, max_wait=self.max_wait)

    def _search(self, backend: Backend, item: Item, config: SearchConfig) -> ArmRun:
        context = DecodingContext(
            backend, config, evaluator_for=self.evaluator_factory, embedder=self.embedder
        )
        result = METHODS[RAIN].run(context, prompt_turns(item.prompt)).result
        return arm_run_from(RAIN, item, result, result.seconds)


def mismatches(cells: Sequence[GridCell]) -> list[dict[str, Any]]:
    """Batched answers that differ from the same request searched alone (same k and seed)."""
    alone = {c.k: {(r.dataset, r.index): r for r in c.runs} for c in cells if c.batch == 1}
    out = []
    for cell in cells:
        solo = alone.get(cell.k)
        if cell.batch == 1 or solo is None:
            continue
        for run in cell.runs:
            ref = solo.get((run.dataset, run.index))
            if ref is not None and (ref.text, ref.decisions) != (run.text, run.decisions):
                out.append(
                    {"k": cell.k, "batch": cell.batch, "dataset": run.dataset,
                     "index": run.index, "alone": ref.text, "batched": run.text}
                )  # fmt: skip
    return out


# --- resume file: one JSON line per finished cell ------------------------------------------


def load_cells(path: str, fingerprint: dict[str, Any]) -> list[GridCell]:
    """Finished cells in ``path`` (none if it does not exist); a torn last line is skipped.

    Raises:
        ConfigError: the file holds cells of other settings (named ``--resume``).
    """
    if not os.path.exists(path):
        return []
    cells = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a run killed while it wrote its last cell
                continue
            if record.get("fingerprint") != fingerprint:
                raise ConfigError(
                    f"--resume {path}: its cells were measured with other settings "
                    f"({_differences(record.get('fingerprint') or {}, fingerprint)}); "
                    "use another file or the same settings"
                )
            cells.append(GridCell.from_json(record["cell"]))
    return cells


def save_cell(path: str, fingerprint: dict[str, Any], cell: GridCell) -> None:
    """Append ``cell`` to ``path`` as one JSON line, flushed to disk."""
    line = json.dumps({"fingerprint": fingerprint, "cell": cell.to_json()}, ensure_ascii=False)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _differences(saved: dict[str, Any], now: dict[str, Any]) -> str:
    keys = sorted(k for k in {*saved, *now} if saved.get(k) != now.get(k))
    return ", ".join(f"{k}: {saved.get(k)!r} there, {now.get(k)!r} now" for k in keys)
