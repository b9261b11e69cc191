"""Invariants of the search tree under random sequences of RAIN steps (hypothesis).

Each example drives one tree through random expand / select (with dynamic node addition) /
backward (random scores, random or missing embeddings) / commit steps and checks after every
step what must hold whatever the order:

* every value in [-1, 1]; visits >= real_visits >= 0;
* real_visits(node) >= sum of its children's real visits (a real visit of a child is also
  one of its parent); the root's real visits = backups since it became root + carried ones;
* the priors of each node's children sum to 1;
* parent and children lists agree, depth grows by one per level, ids are topological;
* q_min <= value <= q_max for every non-root node;
* the tree survives a to_dict -> json -> from_dict round trip unchanged.
"""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rain_guard.backends.base import Candidate
from rain_guard.search import steps as search
from rain_guard.search.config import SearchConfig
from rain_guard.search.tree import NO_PARENT, ROOT, SearchTree

STOP = frozenset({0})
TOL = 1e-9

tokens = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)
candidates = st.lists(
    st.builds(Candidate, tokens, st.floats(-30.0, 0.0, allow_nan=False)), max_size=6
)
# a small pool makes identical / near-identical embeddings (similarity updates) frequent
pool = st.sampled_from(
    [
        (1.0, 0.0, 0.0),
        (2.0, 0.0, 0.0),
        (0.0, 1.0, 0.0),
        (1.0, 1.0, 0.0),
        (1.0, 0.05, 0.0),
        (0.0, 0.0, 0.0),
    ]
)
vectors = pool | st.tuples(*[st.floats(-1.0, 1.0, allow_nan=False)] * 3)
configs = st.builds(
    SearchConfig,
    use_similarity=st.booleans(),
    similarity_threshold=st.floats(0.0, 1.0),
    similarity_weight=st.floats(0.0, 1.0),
    dynamic_node_addition=st.booleans(),
    max_children=st.integers(1, 8),
    root_prior_mix=st.floats(0.0, 1.0),
    c_puct=st.floats(0.0, 5.0),
)
OPS = ("expand", "select", "backward", "iteration", "commit")


def check_invariants(tree: SearchTree, root_real_visits: int) -> None:
    n = len(tree)
    for name in ("tokens", "logprob", "prior", "visits", "real_visits", "value", "children"):
        assert len(getattr(tree, name)) == n, name
    for name in ("embedding", "depth", "terminal", "score"):
        assert len(getattr(tree, name)) == n, name
    assert tree.parent[ROOT] == NO_PARENT
    assert tree.real_visits[ROOT] == root_real_visits
    seen = {ROOT}
    for node in range(n):
        assert -1.0 - TOL <= tree.value[node] <= 1.0 + TOL
        assert tree.real_visits[node] >= 0
        assert tree.visits[node] >= tree.real_visits[node] - TOL
        kids = tree.children[node]
        assert tree.real_visits[node] >= sum(tree.real_visits[k] for k in kids)
        if kids:
            assert math.isclose(sum(tree.prior[k] for k in kids), 1.0, abs_tol=TOL)
            assert all(tree.prior[k] >= 0.0 for k in kids)
            assert len({tree.tokens[k] for k in kids}) == len(kids)  # no duplicate sets
        for k in kids:
            assert tree.parent[k] == node
            assert k > node  # ids are topological (creation order / BFS after reroot)
            assert tree.depth[k] == tree.depth[node] + 1
            assert k not in seen
            seen.add(k)
        if node != ROOT:
            assert node in tree.children[tree.parent[node]]
            assert tree.q_min - TOL <= tree.value[node] <= tree.q_max + TOL
            assert tree.tokens[node]  # empty sets are never attached
            assert tree.terminal[node] == (tree.tokens[node][-1] in STOP)
    assert seen == set(range(n))  # every node reachable exactly once
    assert tree.tokens[ROOT] == ()
    back = SearchTree.from_dict(json.loads(json.dumps(tree.to_dict())))
    assert back == tree


def draw_embeddings(data: st.DataObject, tree: SearchTree, node: int) -> list | None:
    if data.draw(st.booleans(), label="with embeddings"):
        path = tree.path(node)
        return [
            list(v) for v in data.draw(st.lists(vectors, min_size=len(path), max_size=len(path)))
        ]
    return None


def _adder(data: st.DataObject, tree: SearchTree, config: SearchConfig, asked: list[int]):
    """Dynamic node addition callback: checks it is called only when needed, then expands."""

    def add_children(node: int) -> None:
        assert search.needs_more_children(tree, node, config)
        asked.append(node)
        search.expand(tree, node, data.draw(candidates, label="added"), config, STOP)

    return add_children


@settings(max_examples=50, deadline=None)
@given(data=st.data(), config=configs, steps=st.integers(1, 40))
def test_random_rain_steps_keep_the_tree_consistent(data, config, steps):
    tree = SearchTree()
    backups = 0  # backward calls since the current root became root
    carried = 0  # real visits the current root had when it became root
    check_invariants(tree, 0)
    for _ in range(steps):
        op = data.draw(st.sampled_from(OPS), label="op")
        if op == "expand":
            growable = [n for n in range(len(tree)) if not tree.terminal[n]]
            if growable:
                node = data.draw(st.sampled_from(growable), label="expand at")
                before = len(tree.children[node])
                new = search.expand(tree, node, data.draw(candidates), config, STOP)
                assert len(tree.children[node]) == before + len(new)
                assert new == list(range(len(tree) - len(new), len(tree)))
        elif op in ("select", "iteration"):
            asked: list[int] = []
            add_children = _adder(data, tree, config, asked)
            leaf = search.select(tree, config, add_children)
            assert tree.is_leaf(leaf)
            assert all(a == ROOT or a in tree.path(leaf) for a in asked)
            if op == "iteration":  # one full inner iteration as the graph runs it
                if not tree.terminal[leaf]:
                    search.expand(tree, leaf, data.draw(candidates, label="leaf"), config, STOP)
                score = data.draw(st.floats(-1.0, 1.0), label="score")
                search.backward(tree, leaf, score, config, draw_embeddings(data, tree, leaf))
                backups += 1
        elif op == "backward":
            node = data.draw(st.integers(0, len(tree) - 1), label="backward at")
            score = data.draw(st.floats(-1.0, 1.0), label="score")
            before = [tree.real_visits[k] for k in range(len(tree))]
            search.backward(tree, node, score, config, draw_embeddings(data, tree, node))
            backups += 1
            on_path = {ROOT, *tree.path(node)}
            for k in range(len(tree)):
                assert tree.real_visits[k] == before[k] + (k in on_path)
        elif op == "commit" and not tree.is_leaf(ROOT):
            expected = tree.best_child(ROOT)
            old = tree
            tree, best = search.commit(tree, config)
            assert best == expected
            assert tree.visits[ROOT] == old.visits[best]
            assert tree.value[ROOT] == old.value[best]
            carried, backups = old.real_visits[best], 0
        check_invariants(tree, carried + backups)
        should = search.should_commit(tree, config)
        if tree.is_leaf(ROOT):
            assert not should
        elif tree.real_visits[ROOT] >= config.t_max:
            assert should


@settings(max_examples=50, deadline=None)
@given(
    probs=st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=12),
    mix=st.floats(0.0, 1.0),
    at_root=st.booleans(),
)
def test_expand_priors_are_a_distribution_with_clipped_greedy(probs, mix, at_root):
    tree = SearchTree()
    node = ROOT if at_root else tree.add_child(ROOT, (9,), 0.0)
    config = SearchConfig(root_prior_mix=mix)
    cands = [Candidate((i + 1,), math.log(p)) for i, p in enumerate(probs)]
    new = search.expand(tree, node, cands, config, STOP)
    got = [tree.prior[k] for k in new]
    assert math.isclose(sum(got), 1.0, abs_tol=1e-9)
    expected = list(probs)
    if len(expected) > 1:
        rest = expected[1:]
        expected[0] = max(min(expected[0], sum(rest)), max(rest) + min(rest))
    total = sum(expected)
    expected = [p / total for p in expected]
    if at_root:
        expected = [mix * p + (1 - mix) / len(expected) for p in expected]
    for g, e in zip(got, expected, strict=True):
        assert math.isclose(g, e, rel_tol=1e-9, abs_tol=1e-12)


# --- each step against its definition ----------------------------------------------------------


def grow(data: st.DataObject, config: SearchConfig, steps: int) -> SearchTree:
    """A random tree: expansions at random growable nodes and backups of random scores."""
    tree = SearchTree()
    for _ in range(steps):
        growable = [n for n in range(len(tree)) if not tree.terminal[n]]
        if data.draw(st.booleans(), label="expand?") and growable:
            node = data.draw(st.sampled_from(growable), label="grow at")
            search.expand(tree, node, data.draw(candidates, label="grown"), config, STOP)
        else:
            node = data.draw(st.integers(0, len(tree) - 1), label="back up at")
            score = data.draw(st.floats(-1.0, 1.0), label="grown score")
            search.backward(tree, node, score, config, draw_embeddings(data, tree, node))
    return tree


@settings(max_examples=25, deadline=None)
@given(data=st.data(), config=configs, steps=st.integers(0, 25))
def test_select_takes_the_puct_argmax_at_every_level(data, config, steps):
    tree = grow(data, config, steps)
    leaf = search.select(tree, config)  # no dynamic node addition: a pure walk
    assert tree.is_leaf(leaf)
    parent = ROOT
    for node in tree.path(leaf):
        scores = [search.puct(tree, k, config.c_puct) for k in tree.children[parent]]
        assert tree.children[parent].index(node) == scores.index(max(scores))  # first max
        parent = node


@settings(max_examples=25, deadline=None)
@given(data=st.data(), config=configs, steps=st.integers(0, 25), score=st.floats(-1.0, 1.0))
def test_backward_is_a_running_mean_on_the_path_and_touches_nothing_else(
    data, config, steps, score
):
    tree = grow(data, config, steps)
    leaf = data.draw(st.integers(0, len(tree) - 1), label="leaf")
    old = SearchTree.from_dict(tree.to_dict())
    search.backward(tree, leaf, score, config, None)  # no embeddings: no similarity update
    on_path = {ROOT, *old.path(leaf)}
    for node in range(len(tree)):
        if node in on_path:
            assert tree.visits[node] == old.visits[node] + 1
            assert tree.real_visits[node] == old.real_visits[node] + 1
            expected = old.value[node] + (score - old.value[node]) / (old.visits[node] + 1)
            assert math.isclose(tree.value[node], expected, abs_tol=1e-12)
        else:
            assert (tree.visits[node], tree.value[node]) == (old.visits[node], old.value[node])
            assert tree.real_visits[node] == old.real_visits[node]
    for node in on_path - {ROOT}:
        assert tree.q_min <= tree.value[node] <= tree.q_max
    assert tree.embedding == old.embedding


@settings(max_examples=40, deadline=None)
@given(data=st.data(), config=configs, steps=st.integers(0, 25), score=st.floats(-1.0, 1.0))
def test_similarity_update_shares_only_with_similar_siblings(data, config, steps, score):
    tree = grow(data, config, steps)
    leaf = data.draw(st.integers(0, len(tree) - 1), label="leaf")
    path = tree.path(leaf)
    drawn = data.draw(st.lists(vectors, min_size=len(path), max_size=len(path)), label="emb")
    embeddings = [list(v) for v in drawn]
    old = SearchTree.from_dict(tree.to_dict())
    search.backward(tree, leaf, score, config, embeddings)
    expected_visits, expected_value = list(old.visits), list(old.value)
    for i, node in enumerate(path):
        expected_visits[node] += 1
        expected_value[node] += (score - old.value[node]) / expected_visits[node]
        if not config.use_similarity:
            assert tree.embedding[node] == old.embedding[node]
            continue
        # the node's embedding becomes the running mean of what was evaluated through it
        new, before = np.asarray(embeddings[i], dtype=np.float64), old.embedding[node]
        mean = new if before is None else before + (new - before) / (old.real_visits[node] + 1)
        assert np.allclose(tree.embedding[node], mean)
        for sib in old.children[old.parent[node]]:
            if sib == node or old.embedding[sib] is None:  # embedded siblings have visits >= 1
                continue
            sim = search.cosine(np.asarray(tree.embedding[node]), np.asarray(old.embedding[sib]))
            if sim >= config.similarity_threshold:
                weight = config.similarity_weight * sim
                expected_visits[sib] = old.visits[sib] + weight
                expected_value[sib] = (
                    old.value[sib] * old.visits[sib] + weight * score
                ) / expected_visits[sib]
    expected_visits[ROOT] += 1
    expected_value[ROOT] += (score - old.value[ROOT]) / expected_visits[ROOT]
    for node in range(len(tree)):
        assert math.isclose(tree.visits[node], expected_visits[node], abs_tol=1e-9), node
        assert math.isclose(tree.value[node], expected_value[node], abs_tol=1e-9), node
        # a similar sibling's value moves towards the score, never past it
        lo, hi = sorted((old.value[node], score))
        assert lo - 1e-9 <= tree.value[node] <= hi + 1e-9 or tree.value[node] == old.value[node]
    assert tree.real_visits == [
        old.real_visits[n] + (n in {ROOT, *path}) for n in range(len(tree))
    ]  # shared updates are not real visits


@settings(max_examples=30, deadline=None)
@given(data=st.data(), config=configs, steps=st.integers(1, 25))
def test_commit_keeps_exactly_the_chosen_subtree(data, config, steps):
    tree = grow(data, config, steps)
    if tree.is_leaf(ROOT):
        return
    old = SearchTree.from_dict(tree.to_dict())
    new, best = search.commit(tree, config)
    assert tree == old  # the old tree is left intact
    kids = old.children[ROOT]
    assert best == max(kids, key=lambda k: (old.visits[k], old.value[k]))
    subtree = [n for n in range(len(old)) if best in (n, *old.path(n))]
    assert len(new) == len(subtree)

    def sets(tree: SearchTree, node: int) -> tuple[tuple[int, ...], ...]:
        return tuple(tree.tokens[n] for n in tree.path(node))  # unique: siblings differ

    by_path = {sets(old, n)[1:]: n for n in subtree}
    assert len(by_path) == len(subtree)
    for node in range(len(new)):
        twin = by_path[sets(new, node)]  # the same token sets below the new root
        for name in ("visits", "real_visits", "value", "embedding", "terminal", "score", "depth"):
            assert getattr(new, name)[node] == getattr(old, name)[twin], name
        if new.parent[node] not in (NO_PARENT, ROOT):
            assert new.prior[node] == old.prior[twin]
    if new.children[ROOT]:  # the new root's children are re-smoothed towards uniform
        old_priors = np.asarray([old.prior[by_path[sets(new, k)]] for k in new.children[ROOT]])
        expected = search.mix_uniform(old_priors, config.root_prior_mix)
        assert np.allclose([new.prior[k] for k in new.children[ROOT]], expected)
