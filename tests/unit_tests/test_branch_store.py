"""BranchStore: which kept set a prefill continues, and how many parents are kept."""

from __future__ import annotations

import torch

from rain_guard.backends.transformers.branch_store import Branch, BranchStore, common_length

LOGITS = torch.zeros(3)


def branch(ids: tuple[int, ...], parent: int = 1) -> Branch:
    return Branch(ids, parent, f"tail{ids}", 0, LOGITS)


def test_the_longest_walked_set_wins():
    store = BranchStore()
    store.add((1, 2), [branch((1, 2, 3, 4), 2), branch((1, 2, 5, 6), 2)])
    best, common = store.best((1, 2, 5, 6, 7))
    assert best.ids == (1, 2, 5, 6) and common == 4
    best, common = store.best((1, 2, 3, 9))  # part of a set still counts
    assert best.ids == (1, 2, 3, 4) and common == 3


def test_ids_that_leave_the_parent_match_nothing():
    store = BranchStore()
    store.add((1, 2), [branch((1, 2, 3, 4), 2)])
    assert store.best((1, 7, 3, 4)) == (None, 0)
    assert store.best((1,)) == (None, 0)


def test_the_oldest_parents_go_first_and_zero_keeps_none():
    store = BranchStore(size=2)
    for parent in [(1,), (2,), (3,)]:
        store.add(parent, [branch((*parent, 9))])
    assert store.best((1, 9))[0] is None
    assert store.best((3, 9, 0))[1] == 2
    store.size = 1
    store.trim()
    assert store.best((2, 9))[0] is None
    empty = BranchStore(size=0)
    empty.add((1,), [branch((1, 9))])
    assert list(empty.caches()) == []


def test_caches_are_the_sets_own_positions_each_once():
    store = BranchStore()
    step = "one walk step's sets"
    store.add((1,), [Branch((1, 2), 1, step, 0, LOGITS), Branch((1, 3), 1, step, 1, LOGITS)])
    store.add((1,), [branch((1, 4))])  # a later walk from the same parent joins the group
    assert sorted(store.caches()) == [step, "tail(1, 4)"]
    store.clear()
    assert list(store.caches()) == []


def test_common_length():
    assert common_length([(1, 2, 3), (1, 2, 4), (1, 2)]) == 2
    assert common_length([(5,), (6,)]) == 0
    assert common_length([(1, 2), (1, 2)]) == 2
