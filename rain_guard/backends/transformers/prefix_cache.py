"""PrefixCache: the prefixes the in-process engine keeps with their KV caches and logits.

The few most recent prefixes are kept with a ``DynamicCache`` covering exactly their ids and
the next-token logits after them. A call whose ids share leading ids with a kept prefix
reuses it: the cache is forked (cheap: layer objects are copied, tensors shared), cropped back
to the shared part (the rewind) and fed only the rest. Sharing is decided on token ids, so a
cache is never fed a mismatch. Pinned prefixes (an evaluator's instructions and examples, which
every call of a run shares) are kept apart from the recent ones, until cleared. The walked
positions of proposed sets (``branch_store``) extend a kept cache that covers their parent.

Only plain attention caches (``cache_ops.is_plain``) are kept; other caches are recomputed
from scratch each call. Not thread-safe: the backend's lock serialises calls.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

from rain_guard.backends.transformers.branch_store import BranchStore, common_length
from rain_guard.backends.transformers.cache_ops import cropped, fork, is_plain
from rain_guard.backends.transformers.forward import ModelCalls

MAX_PINNED = 4  # prefixes kept by pin (one per evaluator option order in practice)


@dataclass
class Entry:
    """A kept prefix: its ids, a cache covering exactly them, and the next-token logits."""

    ids: tuple[int, ...]
    cache: Any
    logits: torch.Tensor  # (vocab,) float32


class PrefixCache:
    """Kept and pinned prefixes, and the prefill that reuses them.

    Args:
        calls: The model's forward calls (prefills feed through them).
        size: Recent prefixes kept (pinned ones apart); also the parents whose walked sets
            ``branches`` keeps.

    Attributes:
        entries: Recent prefixes, least recently used first.
        pinned: Pinned prefixes, oldest first (at most ``MAX_PINNED``).
        branches: Walked sets of recent proposals.
    """

    def __init__(self, calls: ModelCalls, size: int) -> None:
        self.calls = calls
        self.size = size
        self.entries: OrderedDict[tuple[int, ...], Entry] = OrderedDict()
        self.pinned: OrderedDict[tuple[int, ...], Entry] = OrderedDict()
        self.branches = BranchStore(size)

    def prefill(self, ids: tuple[int, ...]) -> tuple[Any, torch.Tensor]:
        """A private cache covering ``ids`` (the caller may extend it) and the logits after.

        Reuses the kept prefix sharing the most leading ids: fork it, crop it back to the
        shared part (at most ``len(ids) - 1`` so the last position yields fresh logits) and
        feed only the rest. The result is kept; prefixes it extends are dropped. Caches
        other than plain attention ones are neither kept nor forked.
        """
        entry, common = self.best_entry(ids)
        if entry is not None and common == len(ids) == len(entry.ids):
            if entry.ids in self.entries:
                self.entries.move_to_end(entry.ids)
            self.calls.count_reuse(common)
            return fork(entry.cache), entry.logits
        keep = min(common, len(ids) - 1)
        cache = self.cropped(entry, keep) if entry is not None and keep > 0 else None
        if cache is None:
            cache, keep = self.calls.new_cache(), 0
        self.calls.count_reuse(keep)
        logits = self.calls.extend(cache, ids[keep:])
        if not is_plain(cache):
            return cache, logits  # may update in place: never keep or fork it
        self.remember(Entry(ids, cache, logits))
        return fork(cache), logits

    def best_entry(self, ids: tuple[int, ...]) -> tuple[Entry | None, int]:
        """The kept prefix sharing the most leading ids, and how many.

        Most recent first wins ties. A walked set that continues further wins if a kept
        cache covers its parent: that cache, cropped to the parent, takes the set's
        positions (``branch_store``).
        """
        best, best_len = None, 0
        for entry in [*reversed(self.entries.values()), *self.pinned.values()]:
            common = common_length([entry.ids, ids])
            if common > best_len:
                best, best_len = entry, common
        branch, common = self.branches.best(ids)
        if branch is None or common <= best_len or best_len < branch.parent:
            return best, best_len
        base = self.cropped(best, branch.parent)
        if base is None:
            return best, best_len
        return Entry(branch.ids, branch.on(base), branch.logits), common

    def cropped(self, entry: Entry, keep: int) -> Any | None:
        """A fork of ``entry``'s cache holding its first ``keep`` positions, or None."""
        return cropped(entry.cache, keep)

    def remember(self, entry: Entry) -> None:
        """Keep ``entry`` as the most recent prefix; prefixes it extends are dropped."""
        for ids in [
            k for k in self.entries if len(k) <= len(entry.ids) and entry.ids[: len(k)] == k
        ]:
            del self.entries[ids]  # superseded: the new entry covers it
        self.entries[entry.ids] = entry
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        self.note_kept()

    def pin(self, ids: tuple[int, ...]) -> None:
        """Keep a cache of ``ids`` until ``clear`` drops it, whatever else is cached.

        At most ``MAX_PINNED`` are kept (the oldest goes first); pinning a pinned prefix
        again costs nothing.
        """
        if ids in self.pinned:
            return
        self.prefill(ids)
        entry = self.entries.get(ids)
        if entry is None:
            return  # a cache that cannot be kept (not a plain attention cache)
        self.pinned[ids] = entry
        while len(self.pinned) > MAX_PINNED:
            self.pinned.popitem(last=False)
        self.note_kept()

    def resize(self, size: int) -> None:
        """Keep ``size`` recent prefixes (and walked parents) from now on; drop the oldest now."""
        self.size = size
        self.branches.size = size
        self.branches.trim()
        while len(self.entries) > size:
            self.entries.popitem(last=False)
        self.note_kept()

    def clear(self, *, keep_pinned: bool = False) -> None:
        """Drop every kept prefix and walked set; pinned prefixes too unless asked."""
        self.entries.clear()
        self.branches.clear()
        if not keep_pinned:
            self.pinned.clear()
        self.note_kept()

    def note_kept(self) -> None:
        """Tell the memory meter which caches are kept now."""
        kept = [e.cache for e in self.entries.values()]
        kept += self.branches.caches()
        self.calls.kv_memory.keep(kept, [e.cache for e in self.pinned.values()])
