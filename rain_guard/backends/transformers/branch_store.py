"""The walked positions of sampled token sets, kept so that expanding a set does not re-feed it.

A proposal walk feeds every distinct candidate set but its last token, one batched call per
step, and used to drop that batch when the walk ended. The search then expands one of those
sets (or rolls it out) soon after, and the expansion re-fed the whole set on top of the
parent's kept prefix: 9 of a 10-token set's positions computed a second time. A
``BranchStore`` keeps, per walked parent, each returned set's own positions (a few positions
per set, copied out of the batch in one tensor per layer for all the sets a walk step
completes, so the batch itself is freed). A later prefill that
continues a set appends them to any kept cache that covers the parent (the parent's own, or
a sibling's that was expanded since) and feeds only the set's last token. It holds no copy
of the parent's context: without a kept cache covering the parent, the set is re-fed as
before, so the memory it adds is the sets' positions alone.

Pure bookkeeping around caches; ``TransformersBackend`` owns the model, the caches and the
lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Branch:
    """A walked set: its ids and the positions the walk fed for it after the parent.

    Attributes:
        ids: Parent ids plus the set's tokens but its last (the positions the walk fed).
        parent: How many of ``ids`` are the parent's (the positions ``tail`` follows).
        tail: Cache of the walked sets' own positions only, one row per set (the sets of one
            walk step share it).
        row: This set's row of ``tail``.
        logits: (vocab,) float32 logits after ``ids``.
    """

    ids: tuple[int, ...]
    parent: int
    tail: Any
    row: int
    logits: torch.Tensor

    def on(self, base: Any) -> Any:
        """``base`` (covering exactly the parent ids; updated here) extended to cover ``ids``."""
        rows = slice(self.row, self.row + 1)
        for index, layer in enumerate(self.tail.layers):
            base.update(layer.keys[rows], layer.values[rows], index)
        return base


class BranchStore:
    """The walked sets of the last ``size`` proposal parents.

    Args:
        size: Parents kept (least recently walked first out); 0 keeps none.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._groups: OrderedDict[tuple[int, ...], dict[tuple[int, ...], Branch]] = OrderedDict()

    def add(self, parent: tuple[int, ...], branches: Sequence[Branch]) -> None:
        """Keep ``branches`` (sets walked from ``parent``), joining any kept for it already."""
        if self.size <= 0 or not branches:
            return
        group = self._groups.pop(parent, {})
        group.update((b.ids, b) for b in branches)
        self._groups[parent] = group
        self.trim()

    def best(self, ids: Sequence[int]) -> tuple[Branch | None, int]:
        """The kept branch sharing the most leading ids with ``ids``, and how many.

        Only branches whose parent ``ids`` fully continue count: a shorter match is the
        parent's own kept prefix, which the caller's other caches cover.
        """
        ids = tuple(ids)
        best, best_len = None, 0
        for parent, group in self._groups.items():
            if ids[: len(parent)] != parent:
                continue
            for branch in group.values():
                common = len(parent) + common_length(
                    [branch.ids[len(parent) :], ids[len(parent) :]]
                )
                if common > best_len:
                    best, best_len = branch, common
        return best, best_len

    def trim(self) -> None:
        """Drop the oldest parents beyond ``size``."""
        while len(self._groups) > max(self.size, 0):
            self._groups.popitem(last=False)

    def clear(self) -> None:
        """Drop every kept branch."""
        self._groups.clear()

    def caches(self) -> Iterator[Any]:
        """Every cache the store holds (the sets' own positions), each once."""
        seen: set[int] = set()
        for group in self._groups.values():
            for branch in group.values():
                if id(branch.tail) not in seen:
                    seen.add(id(branch.tail))
                    yield branch.tail


def common_length(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest common leading run of ``seqs``."""
    first, n = seqs[0], min(len(s) for s in seqs)
    if all(tuple(s[:n]) == tuple(first[:n]) for s in seqs[1:]):
        return n
    for i in range(n):
        token = first[i]
        if any(s[i] != token for s in seqs[1:]):
            return i
    return n
