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
from rain_guard.backends.transformers.prefix_cache import Entry, PrefixCache
from rain_guard.backends.transformers.stacked_prefill import kept_starts, last_logits, prefill_rows


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
        starts = kept_starts(self.prefixes, rows)
        best = max(keep for _, keep in starts)
        shared = common - min(common, best) + sum(len(r) - common for r in rows)
        own = sum(len(r) - keep for r, (_, keep) in zip(rows, starts, strict=True))
        return starts if own < shared else None

    def _probs_on_own_prefixes(
        self, rows: list[tuple[int, ...]], starts: list[tuple[Entry | None, int]]
    ) -> torch.Tensor:
        """(rows, vocab) next-token probabilities, one forward call, each row on its own prefix.

        Each row's cache is kept as a single-row call keeps it (``prefill_rows``).
        """
        done = prefill_rows(self.prefixes, rows, self.pad_id, starts)
        return torch.softmax(done.logits, dim=-1).cpu()

    def _last_logits(
        self,
        suffixes: list[tuple[int, ...]],
        cache: Any,
        held: torch.Tensor,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Feed ``suffixes`` right-padded after ``cache``; (rows, vocab) last logits per row."""
        return last_logits(self.calls, suffixes, cache, held, self.pad_id, positions)[0]
