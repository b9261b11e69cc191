"""OptionScorer: next-token probabilities of a batch of prompts in one forward call.

An evaluator asks for the probability of its option labels after many prompts that share long
prefixes. The prompts are scored in one right-padded call after the prefix they all share
(computed once and kept), or, when that feeds fewer tokens, each prompt continuing its own
longest kept prefix: the rows' caches are stacked left-padded (padding masked out) and the
rest of every row is fed with explicit position ids. One prompt is one prefill on its kept
prefix.
"""

from __future__ import annotations

from typing import Any

import torch

from rain_guard.backends.transformers.branch_store import common_length
from rain_guard.backends.transformers.cache_ops import row_of, stacked
from rain_guard.backends.transformers.prefix_cache import Entry, PrefixCache


class OptionScorer:
    """Next-token probabilities of prompts over a prefix cache.

    Args:
        prefixes: Kept prefixes to continue (and to keep the scored prompts in).
        pad_id: Id fed in padded positions (masked out, never attended to).
    """

    def __init__(self, prefixes: PrefixCache, pad_id: int) -> None:
        self.prefixes = prefixes
        self.calls = prefixes.calls
        self.pad_id = pad_id

    def next_token_probs(self, rows: list[tuple[int, ...]]) -> torch.Tensor:
        """(rows, vocab) next-token probabilities: shared prefix once, suffixes right-padded.

        A single row is one prefill (its kept prefix reused), not a prefix call plus a
        suffix call.
        """
        if len(rows) == 1:
            _, logits = self.prefixes.prefill(rows[0])
            return torch.softmax(logits, dim=-1).unsqueeze(0).cpu()
        starts = self._own_starts(rows)
        if starts is not None:
            return self._probs_on_own_prefixes(rows, starts)
        common = min(common_length(rows), min(len(r) for r in rows) - 1)
        if common > 0:
            cache, _ = self.prefixes.prefill(rows[0][:common])
        else:
            cache = self.calls.new_cache()
        cache.batch_repeat_interleave(len(rows))
        suffixes = [r[common:] for r in rows]
        held = torch.ones((len(rows), common), dtype=torch.long)
        return torch.softmax(self._last_logits(suffixes, cache, held), dim=-1).cpu()

    def _own_starts(self, rows: list[tuple[int, ...]]) -> list[tuple[Entry | None, int]] | None:
        """Each row's longest kept prefix and its usable length, or None.

        None unless continuing every row from its own kept prefix feeds fewer tokens than
        computing the prefix all rows share once. Rows whose long prefixes differ early
        (an evaluation prompt asked in two option orders, each order's instructions pinned)
        share little, so the shared-prefix batch would re-feed what is already cached.
        """
        common = min(common_length(rows), min(len(r) for r in rows) - 1)
        starts = []
        for row in rows:
            entry, matched = self.prefixes.best_entry(row)
            starts.append((entry, min(matched, len(row) - 1)))  # the last position is fed
        best = max(keep for _, keep in starts)
        shared = common - min(common, best) + sum(len(r) - common for r in rows)
        own = sum(len(r) - keep for r, (_, keep) in zip(rows, starts, strict=True))
        return starts if own < shared else None

    def _probs_on_own_prefixes(
        self, rows: list[tuple[int, ...]], starts: list[tuple[Entry | None, int]]
    ) -> torch.Tensor:
        """(rows, vocab) next-token probabilities, one forward call, each row on its own prefix.

        The rows' caches are stacked left-padded to the longest (padding masked out), the
        rest of every row is fed right-padded with explicit position ids (left padding is
        wrong without them), and each row's cache is kept as a single-row call keeps it.
        """
        caches = [
            self.prefixes.cropped(e, keep) if e is not None and keep > 0 else None
            for e, keep in starts
        ]
        keeps = [keep if c is not None else 0 for c, (_, keep) in zip(caches, starts, strict=True)]
        for keep in keeps:
            self.calls.count_reuse(keep)
        held = max(keeps)
        config = self.calls.model.config
        batch = stacked(caches, keeps, held, config)
        suffixes = [r[keep:] for r, keep in zip(rows, keeps, strict=True)]
        width = max(len(s) for s in suffixes)
        mask = torch.zeros((len(rows), held), dtype=torch.long)
        positions = torch.zeros((len(rows), width), dtype=torch.long)
        for i, keep in enumerate(keeps):
            mask[i, held - keep :] = 1
            positions[i] = torch.arange(keep, keep + width)
        picked = self._last_logits(suffixes, batch, mask, positions)
        for i, row in enumerate(rows):
            cache = row_of(batch, i, held - keeps[i], held + len(suffixes[i]), config)
            self.prefixes.remember(Entry(row, cache, picked[i]))
        return torch.softmax(picked, dim=-1).cpu()

    def _last_logits(
        self,
        suffixes: list[tuple[int, ...]],
        cache: Any,
        held: torch.Tensor,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Feed ``suffixes`` right-padded after ``cache``; (rows, vocab) logits at each row's end.

        ``held`` is the (rows, cached positions) mask of the cache's real positions; the
        attention mask is left out when nothing is masked, so an unpadded batch runs as
        an unmasked one. Only the distinct last columns are returned by the model.
        """
        width = max(len(s) for s in suffixes)
        input_ids = torch.full((len(suffixes), width), self.pad_id, dtype=torch.long)
        fed = torch.zeros((len(suffixes), width), dtype=torch.long)
        for i, suffix in enumerate(suffixes):
            input_ids[i, : len(suffix)] = torch.tensor(suffix)
            fed[i, : len(suffix)] = 1
        mask = torch.cat([held, fed], dim=1)
        last = [len(s) - 1 for s in suffixes]
        columns = sorted(set(last))
        logits = self.calls.forward(
            input_ids,
            cache,
            None if bool(mask.all()) else mask,
            keep=torch.tensor(columns, device=self.calls.device),
            positions=positions,
        )
        return logits[torch.arange(len(suffixes)), [columns.index(n) for n in last]]
