"""Where a walk's cache rows live: slots that stay put, so a step copies only moved rows.

A walk step continues old cache rows into new ones: some rows end (a set reached its
length), some split (two draws after the same tokens). Gathering the new rows in order
copies every row's whole cache. But the rows' order in the batch does not matter, only which
slot holds which row. So a row whose parent's slot is still in range stays in that slot, and
only the extra children of a split, and rows beyond the new row count, move into the freed
slots. On a pooled search that halved the cache positions copied; a walk's first selection,
out of the stacked prefill, still copies every row (docs/performance.md).

Pure bookkeeping: no torch; ``WalkBatch`` applies the plan to its cache, mask and logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SlotPlan:
    """How a step's new rows sit in the cache's slots.

    Attributes:
        slots: Slot of each new row (new row i continues old row ``parents[i]``).
        sources: For each slot 0..len(slots)-1, the old slot whose states it takes.
    """

    slots: list[int]
    sources: list[int]

    @property
    def moved(self) -> list[int]:
        """Slots whose states come from another slot (the rows copied)."""
        return [slot for slot, source in enumerate(self.sources) if source != slot]

    @property
    def in_order(self) -> bool:
        """Whether new row i sits in slot i (the logits need no reordering)."""
        return all(slot == row for row, slot in enumerate(self.slots))


def plan_slots(old_slots: Sequence[int] | None, parents: Sequence[int]) -> SlotPlan:
    """The slots of the new rows: each parent's first child keeps its slot where it can.

    Args:
        old_slots: Slot of each old row (None: old row i in slot i).
        parents: Old row each new row continues (repeats: a split; absent rows: ended).

    Returns:
        A plan whose ``sources`` never read a slot that it also writes (the slots that
        change are free ones), so one gather then one scatter applies it.
    """
    count = len(parents)
    old = list(range(max(parents, default=-1) + 1)) if old_slots is None else list(old_slots)
    slots, sources = [-1] * count, [-1] * count
    for row, parent in enumerate(parents):
        slot = old[parent]
        if slot < count and sources[slot] == -1:
            slots[row], sources[slot] = slot, slot
    free = iter(slot for slot in range(count) if sources[slot] == -1)
    for row, parent in enumerate(parents):
        if slots[row] == -1:
            slot = next(free)
            slots[row], sources[slot] = slot, old[parent]
    return SlotPlan(slots, sources)
