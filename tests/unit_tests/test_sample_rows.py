"""Bookkeeping of a batched sampling walk: shared cache rows, pruning, distinct sets."""

from __future__ import annotations

from rain_guard.backends.transformers.sample_rows import SampleRow, distinct_sets, prune, regroup


def rows_with(*token_lists: list[int], kind: str = "set") -> list[SampleRow]:
    return [SampleRow(kind, 8, tokens=list(t)) for t in token_lists]  # type: ignore[arg-type]


def test_rows_with_equal_tokens_share_one_cache_row():
    rows = rows_with([5], [5], [7], [5])
    parents, tokens = regroup(rows)
    assert parents == [0, 0]  # both new cache rows continue the single old one
    assert tokens == [5, 7]
    assert [r.owner for r in rows] == [0, 0, 1, 0]


def test_regroup_follows_each_row_from_its_own_cache_row():
    rows = rows_with([5, 1], [7, 1], [5, 1])
    rows[0].owner, rows[1].owner, rows[2].owner = 0, 1, 0
    parents, tokens = regroup(rows)
    assert parents == [0, 1] and tokens == [1, 1]  # same token, different histories
    assert [r.owner for r in rows] == [0, 1, 0]


def test_finished_rows_get_no_cache_row():
    rows = rows_with([5], [6])
    rows[1].done = True
    parents, tokens = regroup(rows)
    assert (parents, tokens) == ([0], [5])


def test_prune_keeps_the_first_groups_in_row_order_and_every_rollout():
    rows = [*rows_with([1], [2], [1], [3], [2]), *rows_with([4], kind="rollout")]
    prune(rows, need=2)
    assert [r.dropped for r in rows] == [False, False, False, True, False, False]


def test_pruning_never_changes_the_kept_sets():
    sets = [[1, 1], [2, 1], [1, 1], [3, 3], [2, 2], [4, 4]]
    full: dict[tuple[int, ...], float] = {}
    distinct_sets(rows_with(*sets), frozenset(), full)
    pruned_rows = rows_with(*sets)
    prune(pruned_rows, need=3)
    pruned: dict[tuple[int, ...], float] = {}
    distinct_sets(pruned_rows, frozenset(), pruned)
    assert list(pruned)[:3] == list(full)[:3]


def test_distinct_sets_skip_excluded_repeats_and_rollouts():
    rows = [*rows_with([1], [1], [2], [3]), *rows_with([9], kind="rollout")]
    found: dict[tuple[int, ...], float] = {(3,): -1.0}
    distinct_sets(rows, frozenset({(2,)}), found)
    assert list(found) == [(3,), (1,)]
