"""RAIN's search steps (select, expand, backward, commit) checked against hand-computed numbers.

Every tree here is built by hand with ``SearchTree.add_child`` and explicit statistics, so the
expected numbers can be worked out on paper from the formulas in the RAIN paper / reference:

* selection  Q_norm(k) + c * p(k) * sqrt(N(parent)) / (1 + N(k)),
             Q_norm = (V - q_min) / (q_max - q_min), 0 for unvisited nodes;
* priors     exp(logprob) normalised among siblings, the greedy (first) one clipped to
             [max + min, sum] of the samples, root mixed 0.75 * p + 0.25 * uniform;
* backward   N += 1, V running mean, similar siblings N += 0.2 * s, V weighted mean;
* commit     most-visited root child (ties: higher value), subtree kept, priors re-smoothed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rain_guard.backends.base import Candidate
from rain_guard.errors import ConfigError
from rain_guard.search import steps as search
from rain_guard.search.config import SearchConfig
from rain_guard.search.tree import NO_PARENT, ROOT, SearchTree

CFG = SearchConfig()
STOP = frozenset({0})


def child(
    tree: SearchTree,
    parent: int,
    tokens: tuple[int, ...],
    *,
    visits: float = 0.0,
    real: int | None = None,
    value: float = 0.0,
    prior: float = 0.0,
    embedding: list[float] | None = None,
    logprob: float = 0.0,
) -> int:
    """Add a child with the given statistics (real visits default to int(visits))."""
    node = tree.add_child(parent, tokens, logprob)
    tree.visits[node] = float(visits)
    tree.real_visits[node] = int(visits) if real is None else real
    tree.value[node] = value
    tree.prior[node] = prior
    tree.embedding[node] = embedding
    return node


def hand_puct(
    value: float, visits: float, prior: float, parent_visits: float, c: float = 2.0
) -> float:
    q = 0.0 if visits == 0 else (value - (-1.0)) / (1.0 - (-1.0))
    return q + c * prior * math.sqrt(parent_visits) / (1.0 + visits)


# --- selection ---------------------------------------------------------------------------


@pytest.fixture
def three_children() -> tuple[SearchTree, int, int, int]:
    tree = SearchTree()
    tree.visits[ROOT] = 9.0
    tree.real_visits[ROOT] = 9
    a = child(tree, ROOT, (1,), visits=4, value=0.5, prior=0.3)
    b = child(tree, ROOT, (2,), visits=1, value=-0.5, prior=0.6)
    c = child(tree, ROOT, (3,), visits=0, value=0.0, prior=0.1)
    return tree, a, b, c


def test_puct_matches_the_formula_by_hand(three_children):
    tree, a, b, c = three_children
    # a: Q_norm (0.5+1)/2 = 0.75, explore 2*0.3*3/5 = 0.36
    assert search.puct(tree, a, 2.0) == pytest.approx(1.11, rel=1e-4)
    # b: Q_norm 0.25, explore 2*0.6*3/2 = 1.8
    assert search.puct(tree, b, 2.0) == pytest.approx(2.05, rel=1e-4)
    # c: unvisited, Q_norm 0, explore 2*0.1*3/1 = 0.6
    assert search.puct(tree, c, 2.0) == pytest.approx(0.6, rel=1e-4)
    for node in (a, b, c):
        expected = hand_puct(tree.value[node], tree.visits[node], tree.prior[node], 9.0)
        assert search.puct(tree, node, 2.0) == pytest.approx(expected, rel=1e-4)


def test_puct_scales_exploration_with_c(three_children):
    tree, a, _, _ = three_children
    assert search.puct(tree, a, 0.0) == pytest.approx(0.75, rel=1e-4)
    assert search.puct(tree, a, 5.0) == pytest.approx(0.75 + 5 * 0.3 * 3 / 5, rel=1e-4)


def test_q_norm_uses_the_tree_value_range():
    tree = SearchTree(q_min=-0.5, q_max=0.5)
    a = child(tree, ROOT, (1,), visits=2, value=0.25)
    assert search.q_norm(tree, a) == pytest.approx(0.75, rel=1e-4)
    tree.q_min, tree.q_max = -1.0, 1.0
    assert search.q_norm(tree, a) == pytest.approx(0.625, rel=1e-4)


def test_q_norm_is_zero_for_unvisited_nodes_whatever_their_value():
    tree = SearchTree()
    a = child(tree, ROOT, (1,), visits=0, value=0.9)
    assert search.q_norm(tree, a) == 0.0
    tree.visits[a] = 0.2  # a similarity share counts as a visit
    assert search.q_norm(tree, a) > 0.9


def test_select_follows_the_max_at_each_level():
    tree = SearchTree()
    tree.visits[ROOT] = 4.0
    a = child(tree, ROOT, (1,), visits=1, value=-1.0, prior=0.5)
    b = child(tree, ROOT, (2,), visits=3, value=1.0, prior=0.5)
    b1 = child(tree, b, (3,), visits=2, value=1.0, prior=0.5)
    b2 = child(tree, b, (4,), visits=0, value=0.0, prior=0.5)
    # level 1: a = 0 + 2*.5*2/2 = 1.0 ; b = 1 + 2*.5*2/4 = 1.5 -> b
    assert search.puct(tree, b, 2.0) > search.puct(tree, a, 2.0)
    # level 2 (N(b) = 3): b1 = 1 + 2*.5*sqrt3/3 = 1.577 ; b2 = 0 + 2*.5*sqrt3/1 = 1.732 -> b2
    assert search.puct(tree, b2, 2.0) > search.puct(tree, b1, 2.0)
    assert search.select(tree, CFG) == b2
    # make b1 good enough to win its level: the walk follows
    tree.prior[b1], tree.prior[b2] = 0.9, 0.1
    assert search.select(tree, CFG) == b1
    # make a win at the first level: the walk stops at the leaf a
    tree.prior[a], tree.prior[b] = 1.0, 0.0
    tree.visits[a] = 0.0
    assert search.select(tree, CFG) == a


def test_select_returns_the_root_of_a_one_node_tree():
    assert search.select(SearchTree(), CFG) == ROOT


def test_select_with_zero_c_is_greedy_on_value():
    tree = SearchTree()
    tree.visits[ROOT] = 10.0
    child(tree, ROOT, (1,), visits=5, value=0.1, prior=0.99)
    good = child(tree, ROOT, (2,), visits=5, value=0.2, prior=0.01)
    assert search.select(tree, SearchConfig(c_puct=0.0)) == good
    assert search.select(tree, CFG) != good


# --- expand ------------------------------------------------------------------------------


def cands(*items: tuple[tuple[int, ...], float]) -> list[Candidate]:
    return [Candidate(tokens, math.log(p)) for tokens, p in items]


def test_expand_clips_the_greedy_prior_to_the_sample_sum_and_mixes_the_root():
    tree = SearchTree()
    new = search.expand(
        tree, ROOT, cands(((5,), 0.5), ((6,), 0.2), ((7,), 0.1), ((8,), 0.05)), CFG, STOP
    )
    assert new == [1, 2, 3, 4]
    # greedy 0.5 > sum of samples 0.35 -> clipped to 0.35; total 0.7
    normalised = np.array([0.35, 0.2, 0.1, 0.05]) / 0.7
    expected = 0.75 * normalised + 0.25 / 4
    assert [tree.prior[k] for k in new] == pytest.approx(list(expected), abs=1e-12)
    assert [tree.prior[k] for k in new] == pytest.approx([0.4375, 0.2767857, 0.1696429, 0.1160714])
    assert sum(tree.prior[k] for k in new) == pytest.approx(1.0, abs=1e-12)


def test_expand_raises_a_weak_greedy_prior_to_max_plus_min_of_samples():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    new = search.expand(
        tree, a, cands(((5,), 0.05), ((6,), 0.3), ((7,), 0.2), ((8,), 0.1)), CFG, STOP
    )
    # greedy 0.05 < max + min = 0.4 -> 0.4; total 1.0; a non-root node: no uniform mix
    assert [tree.prior[k] for k in new] == pytest.approx([0.4, 0.3, 0.2, 0.1], abs=1e-12)


def test_expand_root_mix_with_upper_clip_by_hand():
    tree = SearchTree()
    new = search.expand(
        tree, ROOT, cands(((5,), 0.9), ((6,), 0.06), ((7,), 0.02), ((8,), 0.02)), CFG, STOP
    )
    # greedy 0.9 -> sum 0.1; normalised [.5, .3, .1, .1]; root: .75 p + .0625
    assert [tree.prior[k] for k in new] == pytest.approx([0.4375, 0.2875, 0.1375, 0.1375])


def test_expand_non_root_priors_are_not_mixed():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    new = search.expand(tree, a, cands(((5,), 0.6), ((6,), 0.3), ((7,), 0.3)), CFG, STOP)
    # greedy 0.6 = sum of samples, >= max + min: unchanged; normalised by 1.2
    assert [tree.prior[k] for k in new] == pytest.approx([0.5, 0.25, 0.25], abs=1e-12)


def test_expand_root_mix_follows_root_prior_mix_setting():
    tree = SearchTree()
    config = SearchConfig(root_prior_mix=0.5)
    new = search.expand(tree, ROOT, cands(((5,), 0.6), ((6,), 0.3), ((7,), 0.3)), config, STOP)
    assert [tree.prior[k] for k in new] == pytest.approx(
        [0.5 * 0.5 + 0.5 / 3, 0.5 * 0.25 + 0.5 / 3, 0.5 * 0.25 + 0.5 / 3], abs=1e-12
    )


def test_expand_single_candidate_gets_prior_one():
    tree = SearchTree()
    (k,) = search.expand(tree, ROOT, cands(((5, 6), 0.01)), CFG, STOP)
    assert tree.prior[k] == pytest.approx(1.0)


def test_expand_skips_duplicates_and_empty_sets():
    tree = SearchTree()
    first = search.expand(tree, ROOT, cands(((5,), 0.5), ((6,), 0.3)), CFG, STOP)
    again = search.expand(
        tree,
        ROOT,
        [
            Candidate((6,), math.log(0.3)),  # already a child
            Candidate((7,), math.log(0.1)),
            Candidate((7,), math.log(0.1)),  # duplicate within the batch
            Candidate((), 0.0),  # empty set
        ],
        CFG,
        STOP,
    )
    assert first == [1, 2]
    assert again == [3]
    assert [tree.tokens[k] for k in tree.children[ROOT]] == [(5,), (6,), (7,)]
    assert sum(tree.prior[k] for k in tree.children[ROOT]) == pytest.approx(1.0)


def test_expand_renormalises_old_and_new_children_together():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    search.expand(tree, a, cands(((5,), 0.5), ((6,), 0.5)), CFG, STOP)
    search.expand(tree, a, cands(((7,), 0.5)), CFG, STOP)
    # samples [0.5, 0.5]: greedy 0.5 -> max(min(.5, 1.0), 1.0) = 1.0; total 2.0
    assert [tree.prior[k] for k in tree.children[a]] == pytest.approx([0.5, 0.25, 0.25])


def test_expand_marks_sets_ending_with_a_stop_id_terminal():
    tree = SearchTree()
    new = search.expand(
        tree, ROOT, cands(((5, 0), 0.5), ((0,), 0.3), ((0, 5), 0.2), ((5, 6), 0.1)), CFG, STOP
    )
    assert [tree.terminal[k] for k in new] == [True, True, False, False]


def test_expand_sets_depth_and_logprob():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    (k,) = search.expand(tree, a, [Candidate((5, 6), -1.5)], CFG, STOP)
    assert tree.depth[k] == 2
    assert tree.parent[k] == a
    assert tree.logprob[k] == -1.5


# --- backward ----------------------------------------------------------------------------


def test_backward_running_mean_along_the_path_and_root():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    a1 = child(tree, a, (2,))
    a2 = child(tree, a, (3,))
    search.backward(tree, a1, 0.5, CFG)
    assert (tree.visits[a1], tree.value[a1]) == (1.0, 0.5)
    assert (tree.visits[a], tree.value[a]) == (1.0, 0.5)
    assert (tree.visits[ROOT], tree.value[ROOT]) == (1.0, 0.5)
    search.backward(tree, a1, -1.0, CFG)
    assert tree.value[a1] == pytest.approx(-0.25)
    assert tree.value[ROOT] == pytest.approx(-0.25)
    search.backward(tree, a2, 1.0, CFG)
    assert tree.visits[a] == 3.0 and tree.real_visits[a] == 3
    assert tree.value[a] == pytest.approx((0.5 - 1.0 + 1.0) / 3)
    assert tree.value[a2] == 1.0 and tree.visits[a2] == 1.0
    assert tree.real_visits[ROOT] == 3
    assert tree.value[ROOT] == pytest.approx(1.0 / 6)
    assert tree.visits[a1] == 2.0  # untouched by the backup through a2


def test_backward_at_the_root_only_visits_the_root():
    tree = SearchTree()
    search.backward(tree, ROOT, 0.3, CFG, path_embeddings=[])
    assert tree.visits == [1.0] and tree.real_visits == [1] and tree.value == [0.3]


def test_similarity_update_gives_identical_sibling_a_fractional_visit():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    same = child(tree, ROOT, (2,), visits=2, value=-0.5, embedding=[1.0, 0.0])
    other = child(tree, ROOT, (3,), visits=3, value=0.25, embedding=[0.0, 1.0])
    search.backward(tree, a, 1.0, CFG, path_embeddings=[[2.0, 0.0]])  # cosine 1.0 with `same`
    assert tree.visits[same] == pytest.approx(2.2)
    assert tree.value[same] == pytest.approx((-0.5 * 2 + 0.2 * 1.0) / 2.2)
    assert tree.real_visits[same] == 2  # similarity shares are not real visits
    assert tree.embedding[same] == [1.0, 0.0]
    # the dissimilar sibling is untouched
    assert (tree.visits[other], tree.value[other], tree.real_visits[other]) == (3.0, 0.25, 3)
    # the evaluated node itself
    assert tree.embedding[a] == [2.0, 0.0]
    assert (tree.visits[a], tree.value[a]) == (1.0, 1.0)


def test_similarity_share_is_weighted_by_cosine():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    near = child(tree, ROOT, (2,), visits=1, value=0.0, embedding=[0.96, 0.28])  # cos 0.96
    far = child(tree, ROOT, (3,), visits=1, value=0.0, embedding=[0.9, math.sqrt(1 - 0.81)])
    search.backward(tree, a, -1.0, CFG, path_embeddings=[[1.0, 0.0]])
    assert tree.visits[near] == pytest.approx(1.0 + 0.2 * 0.96)
    assert tree.value[near] == pytest.approx(-0.192 / 1.192)
    assert (tree.visits[far], tree.value[far]) == (1.0, 0.0)  # cos 0.9 < 0.95


def test_similarity_update_applies_at_every_level_of_the_path():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    b = child(tree, ROOT, (2,), visits=1, value=0.0, embedding=[0.0, 1.0])
    a1 = child(tree, a, (3,))
    a2 = child(tree, a, (4,), visits=1, value=0.0, embedding=[1.0, 0.0])
    search.backward(tree, a1, 1.0, CFG, path_embeddings=[[0.0, 3.0], [5.0, 0.0]])
    assert tree.visits[b] == pytest.approx(1.2)  # sibling of a, like a's embedding
    assert tree.visits[a2] == pytest.approx(1.2)  # sibling of a1, like a1's embedding
    assert tree.value[a2] == pytest.approx(0.2 / 1.2)


def test_embedding_is_the_running_mean_over_real_visits():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    b = child(tree, ROOT, (2,))
    search.backward(tree, a, 0.0, CFG, path_embeddings=[[1.0, 0.0]])
    search.backward(tree, b, 0.0, CFG, path_embeddings=[[1.0, 0.0]])  # gives a +0.2
    assert tree.visits[a] == pytest.approx(1.2) and tree.real_visits[a] == 1
    search.backward(tree, a, 0.0, CFG, path_embeddings=[[0.0, 1.0]])
    assert tree.embedding[a] == pytest.approx([0.5, 0.5])  # by 2 real visits, not 2.2
    search.backward(tree, a, 0.0, CFG, path_embeddings=[[1.0, 1.0]])
    assert tree.embedding[a] == pytest.approx([2 / 3, 2 / 3])


def test_use_similarity_false_leaves_siblings_alone():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    same = child(tree, ROOT, (2,), visits=2, value=-0.5, embedding=[1.0, 0.0])
    config = SearchConfig(use_similarity=False)
    search.backward(tree, a, 1.0, config, path_embeddings=[[1.0, 0.0]])
    assert (tree.visits[same], tree.value[same]) == (2.0, -0.5)
    assert (tree.visits[a], tree.value[a]) == (1.0, 1.0)


def test_no_embeddings_leaves_siblings_alone():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    same = child(tree, ROOT, (2,), visits=2, value=-0.5, embedding=[1.0, 0.0])
    search.backward(tree, a, 1.0, CFG, path_embeddings=None)
    assert (tree.visits[same], tree.value[same]) == (2.0, -0.5)
    assert tree.embedding[a] is None


def test_backward_rejects_embeddings_of_the_wrong_length():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    a1 = child(tree, a, (2,))
    with pytest.raises(ValueError, match="1 embeddings for a path of 2"):
        search.backward(tree, a1, 1.0, CFG, path_embeddings=[[1.0]])


def test_q_range_starts_at_the_reference_bounds():
    tree = SearchTree()
    assert (tree.q_min, tree.q_max) == (-1.0, 1.0)
    a = child(tree, ROOT, (1,))
    search.backward(tree, a, 0.5, CFG)
    assert (tree.q_min, tree.q_max) == (-1.0, 1.0)


def test_q_range_tracks_non_root_values_including_similarity_shares():
    tree = SearchTree(q_min=0.0, q_max=0.0)
    tree.visits[ROOT], tree.real_visits[ROOT], tree.value[ROOT] = 1.0, 1, 0.9
    a = child(tree, ROOT, (1,))
    b = child(tree, ROOT, (2,), visits=1, value=0.0, embedding=[1.0])
    search.backward(tree, a, 0.1, CFG)
    assert tree.value[ROOT] == pytest.approx(0.5)
    assert tree.q_max == pytest.approx(0.1)  # not the root's 0.5
    assert tree.q_min == 0.0
    search.backward(tree, a, -0.7, CFG, path_embeddings=[[1.0]])
    assert tree.value[a] == pytest.approx(-0.3)
    assert tree.value[b] == pytest.approx(-0.14 / 1.2)
    assert tree.q_min == pytest.approx(-0.3)
    assert tree.q_max == pytest.approx(0.1)


def test_negative_similarity_threshold_is_rejected():
    # a negative threshold would share updates with opposite siblings at a negative weight
    with pytest.raises(ConfigError, match="similarity_threshold"):
        SearchConfig(similarity_threshold=-1.0)


# --- dynamic node addition ---------------------------------------------------------------


def alike_bad_tree(values=(-0.5, -0.2, -0.1), embeddings=None) -> SearchTree:
    tree = SearchTree()
    tree.visits[ROOT] = 3.0
    embeddings = embeddings or [[1.0, 0.0, 0.0]] * len(values)
    for i, (v, e) in enumerate(zip(values, embeddings, strict=True)):
        child(tree, ROOT, (i + 1,), visits=1, value=v, prior=1 / len(values), embedding=e)
    return tree


def test_needs_more_children_when_alike_and_all_bad():
    assert search.needs_more_children(alike_bad_tree(), ROOT, CFG)


def test_no_more_children_when_any_value_is_not_bad():
    assert not search.needs_more_children(alike_bad_tree(values=(-0.5, 0.0, -0.1)), ROOT, CFG)
    assert not search.needs_more_children(alike_bad_tree(values=(-0.5, 0.7, -0.1)), ROOT, CFG)


def test_no_more_children_when_embeddings_differ():
    tree = alike_bad_tree(values=(-0.5, -0.5), embeddings=[[1.0, 0.0], [0.0, 1.0]])
    assert not search.needs_more_children(tree, ROOT, CFG)


def test_alike_threshold_is_scaled_by_set_length():
    # variance per dim 0.01 in 2 dims -> norm 0.01414..; threshold 0.03 * set length
    emb = [[0.0, 0.0], [0.2, 0.2]]
    tree = alike_bad_tree(values=(-0.5, -0.5), embeddings=emb)
    assert search.needs_more_children(tree, ROOT, CFG)
    assert not search.needs_more_children(tree, ROOT, SearchConfig(dynamic_variance_scale=0.01))
    tree.tokens[1] = (1, 1)  # 2-token sets: threshold 0.02
    assert search.needs_more_children(tree, ROOT, SearchConfig(dynamic_variance_scale=0.01))


def test_no_more_children_at_max_children():
    tree = alike_bad_tree()
    assert not search.needs_more_children(tree, ROOT, SearchConfig(max_children=3))
    assert search.needs_more_children(tree, ROOT, SearchConfig(max_children=4))


def test_no_more_children_when_an_embedding_is_missing():
    tree = alike_bad_tree()
    tree.embedding[2] = None
    assert not search.needs_more_children(tree, ROOT, CFG)


def test_no_more_children_when_switched_off_or_leaf():
    assert not search.needs_more_children(
        alike_bad_tree(), ROOT, SearchConfig(dynamic_node_addition=False)
    )
    assert not search.needs_more_children(SearchTree(), ROOT, CFG)


def test_select_calls_add_children_exactly_when_needed():
    calls: list[int] = []
    tree = alike_bad_tree()

    def add(node: int) -> None:
        calls.append(node)
        search.expand(tree, node, [Candidate((9,), math.log(0.5))], CFG, STOP)

    leaf = search.select(tree, CFG, add)
    assert calls == [ROOT]
    assert len(tree.children[ROOT]) == 4
    assert leaf in tree.children[ROOT]

    calls.clear()
    good = alike_bad_tree(values=(-0.5, 0.5, -0.1))
    search.select(good, CFG, lambda node: calls.append(node))
    assert calls == []


def test_select_checks_every_level_for_dynamic_addition():
    tree = SearchTree()
    tree.visits[ROOT] = 3.0
    a = child(tree, ROOT, (1,), visits=3, value=0.5, prior=1.0, embedding=[1.0, 0.0])
    for tok in (2, 3):
        child(tree, a, (tok,), visits=1, value=-0.6, prior=0.5, embedding=[0.0, 1.0])
    calls: list[int] = []
    leaf = search.select(tree, CFG, calls.append)
    assert calls == [a]  # the root's child is good; a's children are alike and bad
    assert tree.parent[leaf] == a


# --- exit test ---------------------------------------------------------------------------


def root_with_best(real: int, value: float) -> SearchTree:
    tree = SearchTree()
    tree.visits[ROOT] = float(real)
    tree.real_visits[ROOT] = real
    child(tree, ROOT, (1,), visits=max(real - 1, 0), value=value)
    child(tree, ROOT, (2,), visits=min(real, 1), value=-1.0)
    return tree


@pytest.mark.parametrize(
    ("real", "value", "expected"),
    [
        (5, 0.9, False),  # below t_min
        (6, 0.9, True),  # t_min reached and good
        (6, 0.8, True),  # threshold is inclusive
        (6, 0.79, False),  # not good enough
        (49, -1.0, False),  # below t_max
        (50, -1.0, True),  # t_max forces a commit
        (80, -1.0, True),
    ],
)
def test_should_commit_reference_defaults(real, value, expected):
    assert search.should_commit(root_with_best(real, value), CFG) is expected


def test_should_commit_looks_at_the_most_visited_child_not_the_best_value():
    tree = SearchTree()
    tree.real_visits[ROOT] = 10
    child(tree, ROOT, (1,), visits=6, value=0.1)
    child(tree, ROOT, (2,), visits=4, value=1.0)
    assert not search.should_commit(tree, CFG)


def test_should_commit_respects_custom_thresholds():
    tree = root_with_best(3, 0.5)
    assert search.should_commit(tree, SearchConfig(t_min=3, t_max=10, v_threshold=0.5))
    assert not search.should_commit(tree, SearchConfig(t_min=4, t_max=10, v_threshold=0.5))
    assert not search.should_commit(tree, SearchConfig(t_min=3, t_max=10, v_threshold=0.6))
    assert search.should_commit(tree, SearchConfig(t_min=1, t_max=3, v_threshold=1.0))


def test_leaf_root_never_commits():
    tree = SearchTree()
    tree.real_visits[ROOT] = 1000
    tree.visits[ROOT] = 1000.0
    assert not search.should_commit(tree, CFG)


def test_carried_visits_count_towards_the_exit_test():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    child(tree, ROOT, (2,))
    a1 = child(tree, a, (3,))
    for _ in range(7):
        search.backward(tree, a1, 1.0, CFG)
    new, _ = search.commit(tree, CFG)
    assert new.real_visits[ROOT] == 7
    assert search.should_commit(new, CFG)  # 7 carried >= t_min, best child value 1.0
    # the same subtree with few carried visits must search again first
    tree2 = SearchTree()
    a = child(tree2, ROOT, (1,))
    a1 = child(tree2, a, (3,))
    search.backward(tree2, a1, 1.0, CFG)
    new2, _ = search.commit(tree2, CFG)
    assert not search.should_commit(new2, CFG)


def test_carried_visits_reach_t_max():
    tree = SearchTree()
    a = child(tree, ROOT, (1,))
    a1 = child(tree, a, (3,))
    for _ in range(50):
        search.backward(tree, a1, -1.0, CFG)
    new, _ = search.commit(tree, CFG)
    assert search.should_commit(new, CFG)


# --- commit ------------------------------------------------------------------------------


def test_commit_picks_the_most_visited_child():
    tree = SearchTree()
    child(tree, ROOT, (1,), visits=3, value=1.0)
    b = child(tree, ROOT, (2,), visits=5, value=-1.0)
    child(tree, ROOT, (3,), visits=4.5, value=0.0)
    new, best = search.commit(tree, CFG)
    assert best == b
    assert new.value[ROOT] == -1.0 and new.visits[ROOT] == 5.0


def test_commit_breaks_visit_ties_by_value():
    tree = SearchTree()
    child(tree, ROOT, (1,), visits=4, value=0.1)
    b = child(tree, ROOT, (2,), visits=4, value=0.3)
    child(tree, ROOT, (3,), visits=4, value=-0.3)
    _, best = search.commit(tree, CFG)
    assert best == b


def test_commit_keeps_the_subtree_with_its_statistics():
    tree = SearchTree(q_min=-1.0, q_max=1.0)
    a = child(tree, ROOT, (1,), visits=6, value=0.4, prior=0.7, embedding=[1.0, 0.0])
    b = child(tree, ROOT, (2,), visits=2, value=0.9, prior=0.3, embedding=[0.0, 1.0])
    a1 = child(tree, a, (3, 4), visits=4.2, real=4, value=0.5, prior=0.6, embedding=[0.1, 0.2])
    child(tree, a, (5, 6), visits=2, value=0.25, prior=0.4, embedding=[0.3, 0.4])
    child(tree, b, (7, 8), visits=1, value=0.9, prior=1.0)
    a11 = child(tree, a1, (9,), visits=3, value=-0.1, prior=1.0, embedding=[0.5, 0.6])
    tree.score[a11] = -0.25
    tree.terminal[a11] = True

    new, best = search.commit(tree, CFG)
    assert best == a
    assert len(new) == 4  # a, a1, a2, a11; b's branch is dropped
    assert new.parent == [NO_PARENT, 0, 0, 1]
    assert new.children == [[1, 2], [3], [], []]
    assert new.tokens == [(), (3, 4), (5, 6), (9,)]
    assert new.visits == [6.0, 4.2, 2.0, 3.0]
    assert new.real_visits == [6, 4, 2, 3]
    assert new.value == [0.4, 0.5, 0.25, -0.1]
    assert new.embedding == [[1.0, 0.0], [0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]
    assert new.score == [None, None, None, -0.25]
    assert new.terminal == [False, False, False, True]
    assert new.depth == [1, 2, 2, 3]  # depth counts from the start of the answer
    assert (new.q_min, new.q_max) == (tree.q_min, tree.q_max)
    # re-smoothed priors of the new root's children: .75 * [.6, .4] + .25 / 2
    assert [new.prior[1], new.prior[2]] == pytest.approx([0.575, 0.425], abs=1e-12)
    assert new.prior[3] == 1.0  # deeper priors are not touched
    for node in range(1, len(new)):
        assert node in new.children[new.parent[node]]
    # the old tree is left as it was
    assert len(tree) == 7 and tree.prior[a1] == 0.6


def test_commit_resmoothing_with_three_children_by_hand():
    tree = SearchTree()
    a = child(tree, ROOT, (1,), visits=1)
    for p in (0.5, 0.3, 0.2):
        child(tree, a, (int(p * 10),), prior=p)
    new, _ = search.commit(tree, CFG)
    assert new.prior[1:] == pytest.approx(
        [0.75 * 0.5 + 0.25 / 3, 0.75 * 0.3 + 0.25 / 3, 0.75 * 0.2 + 0.25 / 3], abs=1e-12
    )
    assert sum(new.prior[1:]) == pytest.approx(1.0)


def test_commit_to_a_leaf_child_gives_a_one_node_tree():
    tree = SearchTree()
    a = child(tree, ROOT, (1, 2), visits=2, value=0.5)
    new, best = search.commit(tree, CFG)
    assert best == a
    assert len(new) == 1 and new.is_leaf(ROOT) and new.tokens == [()]
    assert new.real_visits[ROOT] == 2


def test_commit_without_children_raises():
    with pytest.raises(ValueError, match="no children"):
        search.commit(SearchTree(), CFG)


def test_cosine_of_zero_vector_is_zero():
    assert search.cosine(np.zeros(3), np.ones(3)) == 0.0
    assert search.cosine(np.array([1.0, 0.0]), np.array([3.0, 0.0])) == pytest.approx(1.0)


# --------------------------------------------------------------------------- greedy first

GREEDY_FIRST = SearchConfig(adaptive_commit=True, adaptive_value=0.5)


def lone_greedy_child(value: float, real_visits: int = 1) -> tuple[SearchTree, int]:
    tree = SearchTree()
    child = tree.add_child(ROOT, (1,), -0.1)
    tree.real_visits[child], tree.visits[child], tree.value[child] = real_visits, 1.0, value
    tree.real_visits[ROOT], tree.visits[ROOT] = 1, 1.0
    tree.q_min = tree.q_max = value
    return tree, child


def test_a_lone_greedy_child_judged_below_the_bar_needs_rivals():
    tree, _ = lone_greedy_child(0.3)
    assert search.needs_widening(tree, ROOT, GREEDY_FIRST)
    assert not search.needs_widening(tree, ROOT, GREEDY_FIRST.replace(adaptive_greedy_first=False))
    assert not search.needs_widening(tree, ROOT, CFG)  # faithful mode expands q at once


def test_an_unjudged_or_clearly_good_greedy_child_needs_no_rivals():
    assert not search.needs_widening(lone_greedy_child(0.3, real_visits=0)[0], ROOT, GREEDY_FIRST)
    assert not search.needs_widening(lone_greedy_child(0.6)[0], ROOT, GREEDY_FIRST)


def test_a_widened_node_is_not_widened_again():
    tree, _ = lone_greedy_child(0.3)
    tree.add_child(ROOT, (2,), -1.0)
    assert not search.needs_widening(tree, ROOT, GREEDY_FIRST)


def test_select_widens_before_it_chooses_a_child():
    tree, greedy = lone_greedy_child(-0.5)
    asked: list[int] = []

    def widen(node: int) -> None:
        asked.append(node)
        search.expand(tree, node, [Candidate((2,), -0.2)], GREEDY_FIRST, frozenset())

    leaf = search.select(tree, GREEDY_FIRST, widen=widen)
    assert asked == [ROOT]
    assert leaf != greedy  # the unvisited rival wins over the badly judged greedy child


def test_a_lone_greedy_child_is_left_to_widening_not_to_dynamic_node_addition():
    tree = alike_bad_tree(values=(-0.5,))  # one child, so its "variance" is 0
    assert search.needs_more_children(tree, ROOT, CFG)  # faithful mode: as before
    assert not search.needs_more_children(tree, ROOT, GREEDY_FIRST)
    bar_passed = GREEDY_FIRST.replace(adaptive_value=-1.0)
    assert not search.needs_widening(tree, ROOT, bar_passed)  # the floor: no rivals at all
