"""Rows of one batched sampling walk, sharing KV-cache rows while their tokens agree.

A proposal samples q candidate token sets from one prefix, and the search's roll-out samples
one more continuation of the same prefix. A row's next-token distribution depends only on
its tokens so far, so rows whose tokens agree can share one cache row and one fed position
per step; they split into separate cache rows when their draws differ. On a peaked
distribution most of the q rows draw the same first tokens, so a step feeds the distinct
prefixes instead of every row.

A proposal keeps the first ``need`` distinct sets in row order. A row whose tokens already
differ from those of ``need`` earlier groups can never be among them (each group ends as at
least one distinct set that comes first), so it is dropped at once. That bounds the cache
rows at ``need`` however many rows are drawn, which lets a proposal draw spare rows up front
instead of a second sampling pass when draws repeat.

Pure bookkeeping: no torch, no model; ``TransformersBackend`` does the draws and the calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class SampleRow:
    """One sampled sequence of a walk.

    Attributes:
        kind: "set" (a candidate token set, top-k sampled) or "rollout" (full softmax, runs to
            a sentence boundary).
        limit: Tokens at most.
        greedy: Take the argmax instead of a draw (the greedy candidate).
        tokens: Tokens drawn so far.
        logprob: Sum of the drawn tokens' log-probabilities (nats; sets only).
        owner: Cache row whose logits give this row's next token.
        done: No more tokens (limit, stop id or boundary reached).
        dropped: Pruned: cannot be among the kept sets.
    """

    kind: Literal["set", "rollout"]
    limit: int
    greedy: bool = False
    tokens: list[int] = field(default_factory=list)
    logprob: float = 0.0
    owner: int = 0
    done: bool = False
    dropped: bool = False

    @property
    def live(self) -> bool:
        """Still drawing tokens."""
        return not (self.done or self.dropped)


def prune(rows: list[SampleRow], need: int) -> None:
    """Drop the set rows that cannot be among the first ``need`` distinct sets in row order.

    Groups are rows with equal tokens so far (finished rows included); only the first
    ``need`` groups, by their first row, can supply the kept sets. Roll-out rows are never
    dropped.
    """
    first_groups: set[tuple[int, ...]] = set()
    for row in rows:
        if row.kind != "set" or row.dropped:
            continue
        key = tuple(row.tokens)
        if key in first_groups:
            continue
        if len(first_groups) < need:
            first_groups.add(key)
        else:
            row.dropped = True


def regroup(rows: list[SampleRow]) -> tuple[list[int], list[int]]:
    """Cache rows for the next step: one per distinct (owner, last token) of the live rows.

    Sets every live row's ``owner`` to its new cache row and returns, per new cache row, the
    old cache row it continues (``parents``, for ``batch_select_indices``) and the token to
    feed. New cache rows are numbered in order of their first live row.
    """
    index: dict[tuple[int, int], int] = {}
    for row in rows:
        if row.live:
            key = (row.owner, row.tokens[-1])
            row.owner = index.setdefault(key, len(index))
    parents = [owner for owner, _ in index]
    tokens = [token for _, token in index]
    return parents, tokens


def distinct_sets(
    rows: list[SampleRow], exclude: frozenset[tuple[int, ...]], found: dict[tuple[int, ...], float]
) -> None:
    """Add the set rows' token sets to ``found`` in row order, skipping excluded and repeats."""
    for row in rows:
        if row.kind == "set" and not row.dropped:
            key = tuple(row.tokens)
            if key not in exclude and key not in found:
                found[key] = row.logprob
