"""The batched walk: candidate-set rows and a roll-out row drawn together, one call per step.

A walk starts from a batch of cache rows after a prefix and draws every ``SampleRow`` to its
end: set rows from the request's top-k, the roll-out row from the full distribution to a
sentence boundary. Rows whose tokens agree share a cache row (``sample_rows``), so a step feeds
each distinct sequence once; set rows that cannot be among the kept sets are dropped at once.

``WalkBatch`` is the batch being stepped: the cache rows and the logits after each. Selecting
the cache rows that continue and feeding their next tokens happens there alone, so rows with
different prefixes (caches stacked left-padded) need only a per-row attention mask and
position ids in that one unit. Rows keep their cache slots across steps (``row_slots``), so
a step copies only the rows that move, not every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from rain_guard.backends.base import ProposalRequest
from rain_guard.backends.transformers.cache_ops import rows_after
from rain_guard.backends.transformers.forward import ModelCalls
from rain_guard.backends.transformers.headroom_cache import take_slots, with_headroom
from rain_guard.backends.transformers.row_slots import plan_slots
from rain_guard.backends.transformers.sample_rows import SampleRow, prune, regroup
from rain_guard.backends.transformers.sampling import RolloutSampling, draw_rollout, draw_sets
from rain_guard.backends.transformers.stacked_prefill import StackedRows

Walked = tuple[Any, int, torch.Tensor]  # a walked set's own positions (a cache), its row, logits
BoundaryRule = Callable[[tuple[int, ...], list[int], str], bool]  # (prefix, new, boundaries)


@dataclass
class WalkBatch:
    """The cache rows a walk steps and the next-token logits after each.

    Rows are numbered as ``regroup`` numbers them; row i's states sit in cache slot
    ``slots[i]``.

    Attributes:
        cache: Batched cache, one slot per distinct live sequence (updated in place).
        logits: (rows, vocab) float32 logits after each row.
        mask: (slots, cached positions) attention mask for rows on different prefixes
            (stacked left-padded, with holes where a row was padded); None: all real.
        positions: (slots,) position id of each slot's next token (with ``mask``).
        start: Column of the cache where the walk's own tokens begin (None: after the
            prefix, which then is the same for every row).
        slots: Cache slot of each row (None: row i in slot i).
    """

    cache: Any
    logits: torch.Tensor
    mask: torch.Tensor | None = None
    positions: torch.Tensor | None = None
    start: int | None = None
    slots: list[int] | None = None

    @classmethod
    def after(cls, cache: Any, logits: torch.Tensor) -> WalkBatch:
        """One cache row: ``cache`` (consumed) and the (vocab,) ``logits`` after it."""
        return cls(with_headroom(cache), logits.unsqueeze(0))

    @classmethod
    def stacked(cls, rows: StackedRows) -> WalkBatch:
        """Rows on different prefixes (``prefill_rows``): cache row i is prefix i."""
        cache = with_headroom(rows.cache)
        return cls(cache, rows.logits, rows.mask, rows.lengths, rows.mask.shape[1])

    def slot(self, row: int) -> int:
        """The cache slot holding ``row``'s states."""
        return row if self.slots is None else self.slots[row]

    def step(self, calls: ModelCalls, parents: list[int], tokens: list[int]) -> None:
        """New row i continues old row ``parents[i]`` with ``tokens[i]``: one call."""
        plan = plan_slots(self.slots, parents)
        if plan.sources != list(range(self.logits.shape[0])):
            take_slots(self.cache, plan, calls.device)
            if self.mask is not None:
                self.mask, self.positions = self.mask[plan.sources], self.positions[plan.sources]
        fed = list(tokens)
        for row, slot in enumerate(plan.slots):
            fed[slot] = tokens[row]
        logits = self._feed(calls, fed)
        in_order = plan.in_order
        self.slots = None if in_order else plan.slots
        if not in_order:
            logits = logits.index_select(0, torch.tensor(plan.slots, device=logits.device))
        self.logits = logits

    def _feed(self, calls: ModelCalls, tokens: list[int]) -> torch.Tensor:
        """One token into each slot; the (slots, vocab) logits after them."""
        if self.mask is None:
            return calls.step_rows(self.cache, tokens)
        self.mask = torch.cat([self.mask, torch.ones((len(tokens), 1), dtype=torch.long)], 1)
        input_ids = torch.tensor(tokens, dtype=torch.long).view(-1, 1)
        step = calls.forward(input_ids, self.cache, self.mask, 1, self.positions.view(-1, 1))
        self.positions = self.positions + 1
        return step[:, -1]


@dataclass(frozen=True)
class Draws:
    """How a walk's rows draw: set rows by ``req`` with ``generator``, roll-outs by ``rollout``."""

    req: ProposalRequest | None
    generator: torch.Generator | None
    rollout: RolloutSampling | None


@dataclass
class WalkGroup:
    """The rows of one prefix in a walk over several prefixes.

    Attributes:
        ids: The prefix.
        rows: Its rows (their ``owner`` indexes the walk's cache rows).
        draws: How its rows draw (its own request and generators).
        need: Distinct sets it keeps at most (rows beyond are pruned).
        walked: Where its walked sets go (None: not kept).
    """

    ids: tuple[int, ...]
    rows: list[SampleRow]
    draws: Draws
    need: int
    walked: dict[tuple[int, ...], Walked] | None = None


class Walker:
    """Walks rows of one prefix to their ends in batched calls.

    Args:
        calls: The model's forward calls.
        stop_ids: Ids that end a set (included) and a roll-out.
        at_boundary: Whether a prefix plus new ids ends at a roll-out boundary.
    """

    def __init__(
        self, calls: ModelCalls, stop_ids: frozenset[int], at_boundary: BoundaryRule
    ) -> None:
        self.calls = calls
        self.stop_ids = stop_ids
        self.at_boundary = at_boundary

    def walk(
        self,
        batch: WalkBatch,
        ids: tuple[int, ...],
        rows: list[SampleRow],
        draws: Draws,
        need: int,
        walked: dict[tuple[int, ...], Walked] | None = None,
    ) -> None:
        """Draw every row to its end, one batched forward call per step.

        ``batch`` (consumed) covers ``ids``. Set rows beyond the first ``need`` distinct
        ones are dropped. Each set that reaches its length is added to ``walked`` (when
        given) with its own positions, before its cache row is let go.
        """
        self.walk_groups(batch, [WalkGroup(ids, rows, draws, need, walked)])

    def walk_groups(self, batch: WalkBatch, groups: list[WalkGroup]) -> None:
        """Draw the rows of several prefixes to their ends, one batched call per step.

        Each group draws with its own request and generators, so its rows get what they
        would get walked alone (up to the rounding of batched arithmetic).
        """
        every = [row for group in groups for row in group.rows]
        while any(row.live for row in every):
            for group in groups:
                self._draw_step(batch, group)
            if not any(row.live for row in every):
                return
            parents, tokens = regroup(every)
            batch.step(self.calls, parents, tokens)

    def _draw_step(self, batch: WalkBatch, group: WalkGroup) -> None:
        """One token for each live row of ``group``; finished rows marked, spare sets pruned."""
        live = [row for row in group.rows if row.live]
        draws = group.draws
        sets = [r for r in live if r.kind == "set"]
        draw_sets(sets, batch.logits, draws.req, draws.generator, self.calls.vocab)
        for row in live:
            if row.kind == "rollout":
                row.tokens.append(draw_rollout(batch.logits[row.owner], draws.rollout))
            row.done = self.row_done(row, group.ids, draws.rollout)
        if group.walked is not None:
            self._take_walked(live, batch, group.ids, group.walked)
        prune(group.rows, group.need)

    def rollout_row(self, ids: tuple[int, ...], rollout: RolloutSampling | None) -> list[SampleRow]:
        """The roll-out's row, or none when there is nothing to roll out."""
        if rollout is None or rollout.max_tokens <= 0:
            return []
        if self.at_boundary(ids, [], rollout.boundaries):
            return []
        return [SampleRow("rollout", rollout.max_tokens)]

    def row_done(
        self, row: SampleRow, ids: tuple[int, ...], rollout: RolloutSampling | None
    ) -> bool:
        """A row ends at its limit; a set after a stop id, a roll-out at a boundary."""
        if len(row.tokens) >= row.limit:
            return True
        if row.kind == "rollout":
            return self.at_boundary(ids, row.tokens, rollout.boundaries)
        return row.tokens[-1] in self.stop_ids

    def _take_walked(
        self,
        rows: list[SampleRow],
        batch: WalkBatch,
        ids: tuple[int, ...],
        walked: dict[tuple[int, ...], Walked],
    ) -> None:
        """Copy out the positions of the sets that just reached their length (but the last token).

        Sets ending in a stop id are left out: nothing expands them. One copy per layer holds
        every such set of this step, one row each, and only their own positions, so the
        batch they come from is freed when the walk ends.
        """
        owners: dict[tuple[int, ...], int] = {}
        for row in rows:
            if row.kind != "set" or len(row.tokens) != row.limit or row.limit < 2:
                continue
            key = ids + tuple(row.tokens[:-1])
            if key not in walked and row.tokens[-1] not in self.stop_ids:
                owners.setdefault(key, row.owner)
        start = len(ids) if batch.start is None else batch.start
        steps = len(next(iter(owners))) - len(ids) if owners else 0
        if not owners or batch.cache.get_seq_length() != start + steps:
            return  # (the length check cannot fail while set rows step together)
        config, device = self.calls.model.config, self.calls.device
        slots = [batch.slot(owner) for owner in owners.values()]
        tail = rows_after(batch.cache, slots, start, config, device)
        for row, (key, owner) in enumerate(owners.items()):
            walked[key] = (tail, row, batch.logits[owner].clone())
