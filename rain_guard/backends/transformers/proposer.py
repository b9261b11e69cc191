"""Proposer: candidate sets and roll-outs of one prefix, from kept caches and batched walks.

A proposal prefills its prefix (reusing a kept cache), then walks ``oversample`` rows per
wanted set in one batch, with the roll-out (when fused) as one more row; a second sampling pass
tops up only when the first pass's sets repeat each other too often. One-token sets are the top
tokens of the prefill's logits. A greedy set alone with a greedy roll-out is one greedy run
(``GreedyMemo`` skips the steps an earlier run decoded). The walked sets' positions are kept
(``branch_store``) so that expanding one later feeds only its last token.
"""

from __future__ import annotations

from typing import Any

import torch

from rain_guard.backends.base import Candidate, ProposalRequest
from rain_guard.backends.transformers.branch_store import Branch
from rain_guard.backends.transformers.cache_ops import is_plain
from rain_guard.backends.transformers.greedy_memo import TOP, GreedyMemo, GreedyStep
from rain_guard.backends.transformers.prefix_cache import Entry, PrefixCache
from rain_guard.backends.transformers.sample_rows import SampleRow, distinct_sets
from rain_guard.backends.transformers.sampling import RolloutSampling, top_tokens
from rain_guard.backends.transformers.stacked_prefill import prefill_grouped
from rain_guard.backends.transformers.walk import Draws, WalkBatch, Walked, Walker, WalkGroup


class Proposer:
    """Proposals and roll-outs over a prefix cache, a greedy memo and a walker.

    Args:
        prefixes: Kept prefixes (prefill) and walked sets (kept here).
        greedy: Greedy runs already decoded.
        walker: The batched walk.
    """

    def __init__(
        self, prefixes: PrefixCache, greedy: GreedyMemo, walker: Walker, pad_id: int = 0
    ) -> None:
        self.prefixes = prefixes
        self.greedy = greedy
        self.walker = walker
        self.calls = walker.calls
        self.pad_id = pad_id

    def propose(
        self,
        ids: tuple[int, ...],
        req: ProposalRequest,
        rollout: RolloutSampling | None,
        *,
        oversample: int,
        max_rounds: int,
        keep_sets: bool,
    ) -> tuple[list[Candidate], list[int]]:
        """Candidates for ``req`` (prefix ``ids``) and, with ``rollout``, a roll-out beside them.

        The roll-out is drawn in the same walk. ``oversample`` rows are drawn per wanted
        set, in at most ``max_rounds`` sampling passes; ``keep_sets`` keeps the returned sets'
        walked positions.
        """
        if _greedy_only(req, rollout):
            return self.greedy_walk(ids, req, rollout)
        cache, logits = self.prefixes.prefill(ids)
        walked: dict[tuple[int, ...], Walked] | None = None
        if keep_sets and is_plain(cache) and self.prefixes.branches.size > 0:
            walked = {}
        generator = torch.Generator().manual_seed(req.seed)
        need = req.num_candidates + len(req.exclude)
        found: dict[tuple[int, ...], float] = {}
        rows: list[SampleRow] = []
        if req.length == 1:
            candidates = top_tokens(logits, req, self.calls.vocab)
        else:
            count = oversample * req.num_candidates + len(req.exclude)
            rows = [SampleRow("set", req.length, greedy=i == 0) for i in range(count)]
        roll = self.walker.rollout_row(ids, rollout)
        draws = Draws(req, generator, rollout)
        self.walker.walk(WalkBatch.after(cache, logits), ids, [*rows, *roll], draws, need, walked)
        distinct_sets(rows, req.exclude, found)
        for _ in range(max_rounds - 1 if rows else 0):
            missing = req.num_candidates - len(found)
            if missing <= 0:
                break
            rows = [SampleRow("set", req.length) for _ in range(oversample * missing)]
            cache, logits = self.prefixes.prefill(ids)  # an exact hit: a fresh fork, no forward
            draws = Draws(req, generator, None)
            self.walker.walk(WalkBatch.after(cache, logits), ids, rows, draws, need, walked)
            distinct_sets(rows, req.exclude, found)
        if req.length > 1:
            candidates = [Candidate(t, lp) for t, lp in list(found.items())[: req.num_candidates]]
        if walked:
            self._keep_branches(ids, walked, candidates)
        return candidates, (roll[0].tokens if roll else [])

    def walk_many(
        self,
        items: list[tuple[tuple[int, ...], ProposalRequest | None, RolloutSampling | None]],
        *,
        oversample: int,
        max_rounds: int,
        keep_sets: bool,
    ) -> list[tuple[list[Candidate], list[int]]]:
        """``propose`` for several ``(ids, request, rollout)`` items, walked in one batch.

        The items' prefixes are prefilled together, each on its own kept prefix (one call,
        more when the longest would pad the rest: ``prefill_grouped``), and all their rows
        are walked together, one call per step, each item drawing with its own seeds.
        Greedy-only items are greedy runs of their own;
        an item whose first pass found too few distinct sets tops up on its own. An item's
        request may be None: a bare roll-out (``rollout_many``'s items), so searches that
        expand a leaf and searches that only roll one out share each step's call. A bare
        roll-out's result has no candidates; a greedy one is a greedy run, and a prefix
        already at a boundary gets no tokens, as in ``rollout_many``.
        """
        out: list[tuple[list[Candidate], list[int]] | None] = [None] * len(items)
        batched = []
        for i, (ids, req, rollout) in enumerate(items):
            if req is None and rollout is not None and rollout.temperature == 0:
                out[i] = ([], self.greedy_walk(ids, None, rollout)[1])
            elif req is None and not self.walker.rollout_row(ids, rollout):
                out[i] = ([], [])
            elif req is not None and _greedy_only(req, rollout):
                out[i] = self.greedy_walk(ids, req, rollout)
            else:
                batched.append(i)
        if len(batched) == 1:
            ids, req, rollout = items[batched[0]]
            out[batched[0]] = (
                ([], self.rollout(ids, rollout))
                if req is None
                else self.propose(
                    ids, req, rollout, oversample=oversample, max_rounds=max_rounds,
                    keep_sets=keep_sets,
                )
            )  # fmt: skip
        elif batched:
            chosen = [items[i] for i in batched]
            walked = self._walk_together(chosen, oversample, max_rounds, keep_sets)
            for i, result in zip(batched, walked, strict=True):
                out[i] = result
        return [result for result in out if result is not None]

    def _walk_together(
        self,
        items: list[tuple[tuple[int, ...], ProposalRequest | None, RolloutSampling | None]],
        oversample: int,
        max_rounds: int,
        keep_sets: bool,
    ) -> list[tuple[list[Candidate], list[int]]]:
        """The walk of ``walk_many``: one stacked prefill, then one walk of every row."""
        start = prefill_grouped(self.prefixes, [ids for ids, _, _ in items], self.pad_id)
        keep = keep_sets and self.prefixes.branches.size > 0 and is_plain(start.cache)
        groups, firsts = [], []
        for owner, (ids, req, rollout) in enumerate(items):
            rows, first = self._first_rows(ids, req, rollout, start.logits[owner], oversample)
            for row in rows:
                row.owner = owner
            generator = None if req is None else torch.Generator().manual_seed(req.seed)
            need = 0 if req is None else req.num_candidates + len(req.exclude)
            draws = Draws(req, generator, rollout)
            walked = {} if keep and req is not None else None
            groups.append(WalkGroup(ids, rows, draws, need, walked))
            firsts.append(first)
        self.walker.walk_groups(WalkBatch.stacked(start), groups)
        out = []
        for group, first in zip(groups, firsts, strict=True):
            req = group.draws.req
            if req is None or req.length == 1:
                candidates = first
            else:
                candidates = self._top_up(group, oversample, max_rounds)
            if group.walked:
                self._keep_branches(group.ids, group.walked, candidates)
            roll = [row for row in group.rows if row.kind == "rollout"]
            out.append((candidates, roll[0].tokens if roll else []))
        return out

    def _first_rows(
        self,
        ids: tuple[int, ...],
        req: ProposalRequest | None,
        rollout: RolloutSampling | None,
        logits: torch.Tensor,
        oversample: int,
    ) -> tuple[list[SampleRow], list[Candidate]]:
        """An item's rows of the first sampling pass, and its candidates if they need no walk.

        One-token sets are the top tokens of the prefill's logits; longer sets are walked
        (``oversample`` rows per wanted set, the first one greedy).
        """
        rows: list[SampleRow] = []
        first: list[Candidate] = []
        if req is None:
            pass  # a roll-out alone
        elif req.length == 1:
            first = top_tokens(logits, req, self.calls.vocab)
        else:
            count = oversample * req.num_candidates + len(req.exclude)
            rows = [SampleRow("set", req.length, greedy=i == 0) for i in range(count)]
        return [*rows, *self.walker.rollout_row(ids, rollout)], first

    def _top_up(self, group: WalkGroup, oversample: int, max_rounds: int) -> list[Candidate]:
        """The distinct sets of ``group``'s walk, topped up alone if too few were found."""
        req = group.draws.req
        found: dict[tuple[int, ...], float] = {}
        distinct_sets(group.rows, req.exclude, found)
        for _ in range(max_rounds - 1):
            missing = req.num_candidates - len(found)
            if missing <= 0:
                break
            rows = [SampleRow("set", req.length) for _ in range(oversample * missing)]
            cache, logits = self.prefixes.prefill(group.ids)  # kept by the stacked prefill
            draws = Draws(req, group.draws.generator, None)
            batch = WalkBatch.after(cache, logits)
            self.walker.walk(batch, group.ids, rows, draws, group.need, group.walked)
            distinct_sets(rows, req.exclude, found)
        return [Candidate(t, lp) for t, lp in list(found.items())[: req.num_candidates]]

    def rollout_many(self, items: list[tuple[tuple[int, ...], RolloutSampling]]) -> list[list[int]]:
        """Roll-outs of several prefixes, each with its own draws, walked in one batch.

        Greedy roll-outs are greedy runs of their own (the memo may know them); prefixes
        that already end at a boundary get none.
        """
        bare = [(ids, None, rollout) for ids, rollout in items]
        walked = self.walk_many(bare, oversample=1, max_rounds=1, keep_sets=False)
        return [tokens for _, tokens in walked]

    def rollout(self, ids: tuple[int, ...], rollout: RolloutSampling) -> list[int]:
        """A roll-out of ``ids`` on its own: a greedy run at temperature 0, else a walk."""
        if rollout.temperature == 0:
            return self.greedy_walk(ids, None, rollout)[1]
        roll = self.walker.rollout_row(ids, rollout)
        if not roll:
            return []
        cache, logits = self.prefixes.prefill(ids)
        draws = Draws(None, None, rollout)
        self.walker.walk(WalkBatch.after(cache, logits), ids, roll, draws, need=0)
        return roll[0].tokens

    def greedy_walk(
        self, ids: tuple[int, ...], req: ProposalRequest | None, rollout: RolloutSampling | None
    ) -> tuple[list[Candidate], list[int]]:
        """The greedy set of ``req`` and a greedy roll-out, as one greedy run of one row.

        Both are the same greedy continuation, cut at different points (the set after
        ``req.length`` tokens or a stop id, the roll-out at a boundary). Steps the memo knows
        (an earlier greedy run through ``ids``) cost no forward call; the rest are decoded
        one call each and remembered, with the cache of the whole run.
        """
        known = self.greedy.known(ids)
        steps: list[GreedyStep] = []
        set_row = SampleRow("set", req.length) if req is not None else None
        roll = self.walker.rollout_row(ids, rollout)
        cache = logits = None
        while (set_row is not None and not set_row.done) or (roll and not roll[0].done):
            if len(steps) < len(known):
                step = known[len(steps)]
            else:
                if cache is None:
                    cache, logits = self.prefixes.prefill(ids + tuple(s.token for s in steps))
                else:
                    logits = self.calls.extend(cache, [steps[-1].token])
                top, index = logits.topk(min(TOP, self.calls.vocab))  # index[0]: the argmax
                step = GreedyStep(int(index[0]), top.float().cpu())
            steps.append(step)
            for row in (set_row, *roll):
                if row is not None and not row.done:
                    row.tokens.append(step.token)
                    row.done = self.walker.row_done(row, ids, rollout)
        self._keep_greedy(ids, steps, cache, logits)
        candidates = []
        if set_row is not None:
            prior = sum(s.logprob(req.top_k) for s in steps[: len(set_row.tokens)])
            candidates = [Candidate(tuple(set_row.tokens), prior)]
        return candidates, (roll[0].tokens if roll else [])

    def _keep_greedy(
        self, ids: tuple[int, ...], steps: list[GreedyStep], cache: Any, logits: Any
    ) -> None:
        """Remember a greedy run, and its cache (which lacks the last token) as a prefix.

        A run taken wholly from the memo (no ``cache``) adds nothing to it.
        """
        if cache is None:
            return
        self.greedy.store(ids, steps)
        if is_plain(cache):
            self.prefixes.remember(Entry(ids + tuple(s.token for s in steps[:-1]), cache, logits))

    def _keep_branches(
        self,
        ids: tuple[int, ...],
        walked: dict[tuple[int, ...], Walked],
        candidates: list[Candidate],
    ) -> None:
        """Keep the walked positions of the returned sets (the ones a search can expand)."""
        wanted = {ids + c.tokens[:-1] for c in candidates}
        branches = [
            Branch(key, len(ids), tail, row, logits)
            for key, (tail, row, logits) in walked.items()
            if key in wanted
        ]
        self.prefixes.branches.add(ids, branches)
        self.prefixes.note_kept()


def _greedy_only(req: ProposalRequest, rollout: RolloutSampling | None) -> bool:
    """A request for the greedy set alone, with a greedy roll-out: one greedy run does both."""
    greedy_rollout = rollout is not None and rollout.temperature == 0
    return greedy_rollout and req.num_candidates == 1 and not req.exclude and req.top_k <= TOP
