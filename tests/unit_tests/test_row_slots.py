"""Walk rows keep their cache slots: a step copies only the rows that move."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from transformers import DynamicCache

from rain_guard.backends.transformers.headroom_cache import SPARE_SLOTS, take_slots, with_headroom
from rain_guard.backends.transformers.row_slots import plan_slots


def _check(old_slots, parents):
    plan = plan_slots(old_slots, parents)
    old = list(range(max(parents) + 1)) if old_slots is None else old_slots
    assert sorted(plan.slots) == list(range(len(parents)))
    for row, parent in enumerate(parents):  # each new row holds its parent's states
        assert plan.sources[plan.slots[row]] == old[parent]
    written = set(plan.moved)
    assert not written & {plan.sources[slot] for slot in plan.moved}  # no read of a written slot
    return plan


def test_rows_that_continue_stay_in_their_slots():
    plan = _check(None, [0, 2, 3])  # row 1 ended
    assert plan.moved == [1]  # row 3 moves into the freed slot; rows 0 and 2 stay
    assert plan.slots == [0, 2, 1]


def test_a_split_copies_only_the_extra_child():
    plan = _check(None, [0, 1, 1, 2])
    assert plan.moved == [3]  # row 1's second child goes to the new slot; row 2 stays
    assert plan.slots == [0, 1, 3, 2] and plan.sources == [0, 1, 2, 1]


def test_unchanged_rows_are_in_order():
    plan = _check([1, 0], [0, 1])
    assert plan.moved == [] and plan.slots == [1, 0] and not plan.in_order
    assert _check(None, [0, 1, 2]).in_order


@pytest.mark.parametrize("seed", range(20))
def test_random_steps_keep_every_row_with_its_parent(seed):
    rng = random.Random(seed)
    slots = None
    rows = 3
    for _ in range(12):
        parents = sorted(rng.choices(range(rows), k=rng.randint(1, 8)))
        plan = _check(slots, parents)
        slots, rows = plan.slots, len(parents)


def _cache(rows: int, n: int) -> DynamicCache:
    cache = DynamicCache()
    g = torch.Generator().manual_seed(rows * 100 + n)
    cache.update(
        torch.randn(rows, 2, n, 4, generator=g), torch.randn(rows, 2, n, 4, generator=g), 0
    )
    return cache


@pytest.mark.parametrize("seed", range(10))
def test_slot_moves_hold_the_same_states_as_gathering_rows_in_order(seed):
    """Steps of drops, splits and appends: row i of the plain cache = slot slots[i]."""
    rng = random.Random(seed)
    plain, moved = _cache(3, 5), with_headroom(_cache(3, 5))
    slots, rows = None, 3
    for step in range(25):
        parents = sorted(rng.choices(range(rows), k=rng.randint(1, 7)))
        plan = plan_slots(slots, parents)
        plain.batch_select_indices(torch.tensor(parents))
        take_slots(moved, plan, "cpu")
        g = torch.Generator().manual_seed(step)
        new = (
            torch.randn(len(parents), 2, 1, 4, generator=g),
            torch.randn(len(parents), 2, 1, 4, generator=g),
        )
        plain.update(*new, 0)
        order = torch.tensor(plan.slots)
        moved.update(new[0][torch.argsort(order)], new[1][torch.argsort(order)], 0)
        slots, rows = plan.slots, len(parents)
        assert torch.equal(moved.layers[0].keys[order], plain.layers[0].keys)
        assert torch.equal(moved.layers[0].values[order], plain.layers[0].values)


def test_a_copied_layer_keeps_its_states_when_the_other_moves_rows():
    cache = with_headroom(_cache(3, 5))
    cache.update(torch.zeros(3, 2, 1, 4), torch.zeros(3, 2, 1, 4), 0)  # a buffer of its own
    other = copy.copy(cache.layers[0])
    before = other.keys.clone()
    take_slots(cache, plan_slots(None, [2, 2, 0]), "cpu")
    assert torch.equal(other.keys, before)


def test_rows_that_split_after_a_gather_move_into_its_spare_slots():
    """The first selection gathers into a buffer with spare slots; a split then copies only
    the new children into them (the same storage), and every row keeps its parent's states.
    """
    plain, moved = _cache(3, 5), with_headroom(_cache(3, 5))
    first = plan_slots(None, [2, 0])
    take_slots(moved, first, "cpu")  # a gather: 2 rows, spare slots
    storage = moved.layers[0].keys.untyped_storage().data_ptr()
    parents = [0, 0, 0, 1, 1, 1]  # 2 rows split into 6: within the spare slots
    assert len(parents) <= 2 * SPARE_SLOTS
    plan = plan_slots(first.slots, parents)
    take_slots(moved, plan, "cpu")
    assert moved.layers[0].keys.untyped_storage().data_ptr() == storage
    keys = plain.layers[0].keys[[2, 0]][parents]
    assert torch.equal(moved.layers[0].keys[torch.tensor(plan.slots)], keys)
