"""The caches of sampled token sets, kept so that expanding a set does not re-feed it.

A proposal walk feeds every distinct candidate set but its last token, one batched call per
step, and used to drop that batch when the walk ended. The search then expands one of those
sets (or rolls it out) soon after, and the expansion re-fed the whole set on top of the
parent's kept prefix: 9 of a 10-token set's positions computed a second time. A
``BranchStore`` keeps, per walked parent, a fork of the parent's cache (shared with the kept
prefix it came from, so no copy while that is kept) and each set's own positions (a few
positions per set, cloned out of the batch so the batch itself is freed). A later prefill
that continues a set feeds only what the walk did not: the set's last token.

Pure bookkeeping around caches; ``TransformersBackend`` owns the model, the forks and the
lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

Fork = Callable[[Any], Any]  # an independent view of a cache (updates leave the source alone)


@dataclass(frozen=True)
class Branch:
    """A kept set: the parent's cache plus the set's own walked positions.

    Duck-types the backend's kept-prefix entries (``ids``, ``cache``, ``logits``); ``cache``
    is built on each access (a fork of the parent with the set's positions appended), so a
    branch that is looked at but not used costs no copy.

    Attributes:
        ids: Parent ids plus the set's tokens but its last (the positions the walk fed).
        base: Cache covering the parent ids (never updated in place).
        tail: Cache of the set's own positions only (one row).
        logits: (vocab,) float32 logits after ``ids``.
        fork: The backend's fork function.
    """

    ids: tuple[int, ...]
    base: Any
    tail: Any
    logits: torch.Tensor
    fork: Fork

    @property
    def cache(self) -> Any:
        """A fresh cache covering ``ids``: the parent's positions, then the set's."""
        cache = self.fork(self.base)
        for index, layer in enumerate(self.tail.layers):
            cache.update(layer.keys, layer.values, index)
        return cache


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
        """Every cache the store holds: each distinct parent cache once, each set's positions."""
        for group in self._groups.values():
            yield from {id(b.base): b.base for b in group.values()}.values()
            for branch in group.values():
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
