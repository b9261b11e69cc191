"""SearchTree: the plain-list tree kept in LangGraph state (serialisation, paths, reroot)."""

from __future__ import annotations

import json

import pytest

from rain_guard.search.tree import NO_PARENT, ROOT, SearchTree


@pytest.fixture
def tree() -> SearchTree:
    """root -> a (1, 2), b (3,); a -> a1 (4,), a2 (5, 6); a1 -> a11 (0,) terminal."""
    t = SearchTree(q_min=-0.75, q_max=0.5)
    a = t.add_child(ROOT, (1, 2), -0.5)
    b = t.add_child(ROOT, (3,), -1.25)
    a1 = t.add_child(a, [4], -0.1)  # a list is stored as a tuple
    a2 = t.add_child(a, (5, 6), -2.0)
    a11 = t.add_child(a1, (0,), -0.01, terminal=True)
    t.visits[:] = [5.0, 3.2, 2.0, 2.0, 1.0, 1.0]
    t.real_visits[:] = [5, 3, 2, 2, 1, 1]
    t.value[:] = [0.1, 0.2, -0.3, 0.4, -0.5, 0.6]
    t.prior[:] = [1.0, 0.6, 0.4, 0.7, 0.3, 1.0]
    t.embedding[a] = [0.5, -0.25]
    t.embedding[a11] = [1.0, 0.0]
    t.score[a11] = 0.6
    t.score[b] = -0.3
    assert (a, b, a1, a2, a11) == (1, 2, 3, 4, 5)
    return t


def test_new_tree_is_a_single_root():
    t = SearchTree()
    assert len(t) == 1
    assert t.parent == [NO_PARENT]
    assert t.tokens == [()]
    assert t.is_leaf(ROOT)
    assert t.path(ROOT) == [] and t.path_tokens(ROOT) == []
    assert t.best_child(ROOT) is None


def test_add_child_links_parent_and_zero_statistics(tree):
    assert tree.children == [[1, 2], [3, 4], [], [5], [], []]
    assert tree.parent == [NO_PARENT, 0, 0, 1, 1, 3]
    assert tree.depth == [0, 1, 1, 2, 2, 3]
    assert tree.tokens[3] == (4,)
    assert tree.terminal == [False, False, False, False, False, True]
    new = tree.add_child(2, (7,), -0.3)
    assert new == 6
    assert (tree.visits[new], tree.real_visits[new], tree.value[new], tree.prior[new]) == (
        0.0,
        0,
        0.0,
        0.0,
    )
    assert tree.embedding[new] is None and tree.score[new] is None
    assert not tree.is_leaf(2) and tree.is_leaf(new)


def test_to_dict_from_dict_round_trip_through_json(tree):
    data = tree.to_dict()
    text = json.dumps(data)  # plain data: no tuples needed, no numpy
    back = SearchTree.from_dict(json.loads(text))
    assert back == tree
    assert back.tokens[4] == (5, 6)
    assert all(isinstance(t, tuple) for t in back.tokens)
    assert back.q_min == -0.75 and back.q_max == 0.5
    assert back.path_tokens(5) == [1, 2, 4, 0]


def test_to_dict_is_a_copy(tree):
    data = tree.to_dict()
    data["visits"][0] = 99.0
    data["children"][0].append(42)
    data["embedding"][1][0] = 7.0
    assert tree.visits[0] == 5.0
    assert tree.children[0] == [1, 2]
    assert tree.embedding[1] == [0.5, -0.25]


def test_restoring_a_snapshot_twice_gives_the_same_tree(tree):
    snapshot = json.loads(json.dumps(tree.to_dict()))
    first = SearchTree.from_dict(snapshot)
    first.add_child(ROOT, (9,), 0.0)
    first.visits[ROOT] += 1.0
    second = SearchTree.from_dict(snapshot)
    assert second == tree


def test_path_and_path_tokens(tree):
    assert tree.path(ROOT) == []
    assert tree.path(1) == [1]
    assert tree.path(5) == [1, 3, 5]
    assert tree.path(4) == [1, 4]
    assert tree.path_tokens(5) == [1, 2, 4, 0]
    assert tree.path_tokens(4) == [1, 2, 5, 6]
    assert tree.path_tokens(2) == [3]


def test_best_child_is_most_visited_then_highest_value(tree):
    assert tree.best_child(ROOT) == 1  # 3.2 visits beats 2.0
    assert tree.best_child() == 1  # the root by default
    assert tree.best_child(1) == 3  # visits 2.0 vs 1.0
    tree.visits[4] = 2.0  # tie on visits: value 0.4 (node 3) vs -0.5 (node 4)
    assert tree.best_child(1) == 3
    tree.value[4] = 0.45
    assert tree.best_child(1) == 4
    assert tree.best_child(5) is None


def test_best_child_counts_fractional_visits():
    t = SearchTree()
    a = t.add_child(ROOT, (1,), 0.0)
    b = t.add_child(ROOT, (2,), 0.0)
    t.visits[a], t.visits[b] = 2.0, 2.2
    assert t.best_child() == b


def test_reroot_rejects_nodes_that_are_not_root_children(tree):
    for node in (ROOT, 3, 4, 5):
        with pytest.raises(ValueError, match="not a child of the root"):
            tree.reroot(node)


def test_reroot_keeps_the_subtree_renumbered(tree):
    new = tree.reroot(1)
    assert len(new) == 4
    assert new.parent == [NO_PARENT, 0, 0, 1]
    assert new.children == [[1, 2], [3], [], []]
    assert new.tokens == [(), (4,), (5, 6), (0,)]
    assert new.visits == [3.2, 2.0, 1.0, 1.0]
    assert new.real_visits == [3, 2, 1, 1]
    assert new.value == [0.2, 0.4, -0.5, 0.6]
    assert new.embedding == [[0.5, -0.25], None, None, [1.0, 0.0]]
    assert new.score == [None, None, None, 0.6]
    assert new.terminal == [False, False, False, True]
    assert new.depth == [1, 2, 2, 3]
    assert (new.q_min, new.q_max) == (-0.75, 0.5)
    assert new.path_tokens(3) == [4, 0]  # relative to the new root


def test_reroot_to_a_leaf(tree):
    new = tree.reroot(2)
    assert len(new) == 1
    assert new.parent == [NO_PARENT] and new.children == [[]] and new.tokens == [()]
    assert new.value == [-0.3] and new.score == [-0.3]


def test_reroot_result_is_independent_of_the_old_tree(tree):
    new = tree.reroot(1)
    new.visits[1] = 100.0
    new.children[0].append(99)
    if new.embedding[0] is not None:
        new.embedding[0] = [0.0, 0.0]
    assert tree.visits[3] == 2.0
    assert tree.children[1] == [3, 4]
    assert tree.embedding[1] == [0.5, -0.25]
    new.add_child(2, (8,), 0.0)
    assert len(tree) == 6
