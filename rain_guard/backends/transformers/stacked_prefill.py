"""Prefill of several prefixes in one forward call, each row continuing its own kept cache.

Rows whose prefixes share a long context but part at different points (an evaluation prompt in
two option orders on their own pinned instructions; the leaves of one search, each a path
below the committed text) cost least when every row continues its own longest kept prefix:
the rows' caches are stacked left-padded to the longest, the rest of every row is fed
right-padded with explicit position ids (left padding is wrong without them), and padding is
masked out. The result is one batched cache with a (rows, positions) attention mask that has
holes where rows were padded; a later step feeds one more column and extends the mask.

Padding costs what real positions cost: a walk over a pooled search's leaves stacks rows
that continue a kept cache (one or a few fed positions) beside rows whose kept cache was
dropped (tens of positions), and fed 3.1 positions per real one on 8 AdvBench dev prompts
(B 8, k 4). ``prefill_grouped`` prefills the longest suffixes in a call of their own first,
when the padding it saves outweighs a call (``split_point``): 0.66x the prefills' time there
(docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rain_guard.backends.transformers.cache_ops import row_of, stacked
from rain_guard.backends.transformers.prefix_cache import Entry, PrefixCache


@dataclass
class StackedRows:
    """Rows prefilled side by side.

    Attributes:
        cache: Batched cache, row i holding prefix i (left-padded, right-padded).
        logits: (rows, vocab) float32 next-token logits after each row's prefix.
        mask: (rows, positions of ``cache``) attention mask, 1 at each row's real positions.
        lengths: (rows,) tokens of each prefix: the position id of each row's next token.
    """

    cache: Any
    logits: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor


Start = tuple[Entry | None, int]  # a row's kept prefix (or None) and the positions used

CALL_COST = 24  # fed positions one forward call's fixed cost is worth (CPU: ~55 ms a call,
# ~2.5 ms a position in a batch of tens of rows); only where rows are split, never the results


def kept_starts(prefixes: PrefixCache, rows: list[tuple[int, ...]]) -> list[Start]:
    """Each row's longest kept prefix and how much of it is used (its last position is fed)."""
    starts = []
    for row in rows:
        entry, matched = prefixes.best_entry(row)
        starts.append((entry, min(matched, len(row) - 1)))
    return starts


def prefill_grouped(prefixes: PrefixCache, rows: list[tuple[int, ...]], pad_id: int) -> StackedRows:
    """``prefill_rows``, after prefilling the longest suffixes alone when that pads less.

    The long rows' caches are kept (``PrefixCache.remember``), so the final call of every
    row feeds them one position each; the other rows continue the kept prefixes found before
    the first call, even if keeping the long rows dropped them since. Splitting changes
    which rows share a call, not what a row's cache holds (up to the rounding of batched
    arithmetic).
    """
    starts = kept_starts(prefixes, rows)
    fed = [len(row) - keep for row, (_, keep) in zip(rows, starts, strict=True)]
    order = sorted(range(len(rows)), key=lambda i: -fed[i])
    cut = split_point([fed[i] for i in order])
    if cut == 0:
        return prefill_rows(prefixes, rows, pad_id, starts)
    first = [rows[i] for i in order[:cut]]
    prefill_grouped(prefixes, first, pad_id)
    # the other rows keep the starts found above: keeping the first rows may have dropped
    # those entries from the kept prefixes, not from memory
    kept = dict(zip(order[:cut], kept_starts(prefixes, first), strict=True))
    starts = [kept.get(i, start) for i, start in enumerate(starts)]
    return prefill_rows(prefixes, rows, pad_id, starts)


def split_point(fed: list[int]) -> int:
    """How many of the rows (fed positions, longest first) to prefill in a call of their own.

    A call feeds every row as many positions as its longest: ``len(fed) * fed[0]``. Taking
    the first ``j`` rows out first costs ``j * fed[0]`` there, ``len(fed) * max(fed[j], 1)``
    after (those ``j`` rows fed one position each), and ``CALL_COST``. 0: no split pays.
    """
    best, cut = len(fed) * fed[0], 0
    for j in range(1, len(fed)):
        cost = CALL_COST + j * fed[0] + len(fed) * max(fed[j], 1)
        if cost < best:
            best, cut = cost, j
    return cut


def prefill_rows(
    prefixes: PrefixCache,
    rows: list[tuple[int, ...]],
    pad_id: int,
    starts: list[Start] | None = None,
) -> StackedRows:
    """Prefill every row on its own kept prefix in one forward call, and keep each row.

    Each row's cache is kept (``PrefixCache.remember``) as a single-row prefill keeps it,
    as a view of the batch (no copy).

    Args:
        prefixes: The kept prefixes to continue and to keep the rows in.
        rows: Token ids of each prefix (non-empty).
        pad_id: Id fed in padded positions (masked out, never attended to).
        starts: ``kept_starts(prefixes, rows)`` if the caller already has it.
    """
    calls = prefixes.calls
    starts = kept_starts(prefixes, rows) if starts is None else starts
    caches = [
        prefixes.cropped(e, keep) if e is not None and keep > 0 else None for e, keep in starts
    ]
    keeps = [keep if c is not None else 0 for c, (_, keep) in zip(caches, starts, strict=True)]
    for keep in keeps:
        calls.count_reuse(keep)
    held = max(keeps)
    config = calls.model.config
    batch = stacked(caches, keeps, held, config) if held > 0 else calls.new_cache()
    suffixes = [r[keep:] for r, keep in zip(rows, keeps, strict=True)]
    width = max(len(s) for s in suffixes)
    held_mask = torch.zeros((len(rows), held), dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for i, keep in enumerate(keeps):
        held_mask[i, held - keep :] = 1
        positions[i] = torch.arange(keep, keep + width)
    logits, mask = last_logits(calls, suffixes, batch, held_mask, pad_id, positions)
    for i, row in enumerate(rows):
        cache = row_of(batch, i, held - keeps[i], held + len(suffixes[i]), config)
        prefixes.remember(Entry(row, cache, logits[i]))
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    return StackedRows(batch, logits, mask, lengths)


def last_logits(
    calls: Any,
    suffixes: list[tuple[int, ...]],
    cache: Any,
    held: torch.Tensor,
    pad_id: int,
    positions: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Feed ``suffixes`` right-padded after ``cache``: each row's last logits and the mask.

    ``held`` is the (rows, cached positions) mask of the cache's real positions; the
    attention mask is left out of the call when nothing is masked, so an unpadded batch runs
    as an unmasked one. Only the distinct last columns are returned by the model. Returns
    the (rows, vocab) logits at each row's end and the (rows, cached + fed) mask.
    """
    width = max(len(s) for s in suffixes)
    input_ids = torch.full((len(suffixes), width), pad_id, dtype=torch.long)
    fed = torch.zeros((len(suffixes), width), dtype=torch.long)
    for i, suffix in enumerate(suffixes):
        input_ids[i, : len(suffix)] = torch.tensor(suffix)
        fed[i, : len(suffix)] = 1
    mask = torch.cat([held, fed], dim=1)
    last = [len(s) - 1 for s in suffixes]
    columns = sorted(set(last))
    logits = calls.forward(
        input_ids,
        cache,
        None if bool(mask.all()) else mask,
        keep=torch.tensor(columns, device=calls.device),
        positions=positions,
    )
    return logits[torch.arange(len(suffixes)), [columns.index(n) for n in last]], mask
