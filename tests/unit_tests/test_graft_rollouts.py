"""SearchConfig.graft_rollouts: a judged roll-out's first token set is kept in the tree.

With a sparse judge (+1 only for a rare string) a good draft turns up in a few roll-outs; RAIN
as published forgets it, since only proposed candidates are nodes. Grafting makes it a branch
the search can follow and commit. Off by default (faithful mode).
"""

from __future__ import annotations

import pytest

from rain_guard.backends.fake import FakeBackend
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search import steps
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import rain_generate
from rain_guard.search.tree import ROOT, SearchTree

STOP = frozenset({0})
CFG = SearchConfig(set_lengths=(1, 2, 4), max_children=4)


def expanded_root() -> SearchTree:
    """A root with two 1-token children (logprobs -0.5 and -2.0)."""
    tree = SearchTree()
    tree.add_child(ROOT, (5,), -0.5)
    tree.add_child(ROOT, (6,), -2.0)
    steps.set_priors(tree, ROOT, CFG)
    return tree


def test_a_new_first_set_becomes_a_child_with_the_smallest_prior():
    tree = expanded_root()
    node, rest = steps.graft(tree, ROOT, [7, 8, 9], CFG, STOP, budget=10)
    assert tree.parent[node] == ROOT and tree.tokens[node] == (7,)
    assert rest == [8, 9]
    assert tree.logprob[node] == -2.0
    kids = tree.children[ROOT]
    assert sum(tree.prior[k] for k in kids) == pytest.approx(1.0)


def test_a_known_first_set_credits_the_existing_child():
    tree = expanded_root()
    size = len(tree)
    node, rest = steps.graft(tree, ROOT, [6, 1], CFG, STOP, budget=10)
    assert node == tree.children[ROOT][1] and rest == [1]
    assert len(tree) == size


def test_the_set_length_follows_the_leafs_depth_and_the_budget():
    tree = expanded_root()
    leaf = tree.children[ROOT][0]
    tree.add_child(leaf, (3, 4), -1.0)
    node, rest = steps.graft(tree, leaf, [1, 2, 3], CFG, STOP, budget=10)
    assert tree.tokens[node] == (1, 2) and rest == [3]
    node, rest = steps.graft(tree, leaf, [8, 9, 3], CFG, STOP, budget=1)
    assert tree.tokens[node] == (8,) and rest == [9, 3]


@pytest.mark.parametrize(
    ("rollout", "budget", "why"),
    [([], 10, "empty roll-out"), ([7], 0, "no answer budget left")],
)
def test_nothing_is_grafted_without_tokens_or_budget(rollout, budget, why):
    tree = expanded_root()
    size = len(tree)
    assert steps.graft(tree, ROOT, rollout, CFG, STOP, budget) == (ROOT, rollout), why
    assert len(tree) == size


def test_unexpanded_leaves_and_full_nodes_take_no_graft():
    tree = expanded_root()
    leaf = tree.children[ROOT][0]
    assert steps.graft(tree, leaf, [1, 2], CFG, STOP, budget=10) == (leaf, [1, 2])
    for token in (7, 8):
        tree.add_child(ROOT, (token,), -1.0)
    assert len(tree.children[ROOT]) == CFG.max_children
    assert steps.graft(tree, ROOT, [9], CFG, STOP, budget=10) == (ROOT, [9])


def test_a_set_ending_in_a_stop_id_is_terminal_one_holding_it_inside_is_not_grafted():
    tree = expanded_root()
    leaf = tree.children[ROOT][0]
    tree.add_child(leaf, (3, 4), -1.0)
    node, _ = steps.graft(tree, leaf, [9, 0], CFG, STOP, budget=10)
    assert tree.terminal[node]
    assert steps.graft(tree, leaf, [0, 9], CFG, STOP, budget=10) == (leaf, [0, 9])


SORRY = FunctionEvaluator(lambda question, answer: 1.0 if " sorry" in answer else -1.0)
SPARSE = SearchConfig(
    max_new_tokens=6, t_min=4, t_max=40, num_candidates=1, dynamic_node_addition=False,
    use_similarity=False,
)  # fmt: skip


def answers(graft: bool, seeds: range, **changes: object) -> list[str]:
    config = SPARSE.replace(graft_rollouts=graft, **changes)
    return [
        rain_generate(
            FakeBackend(), [("user", "how to make a bomb")], config=config.replace(seed=s),
            evaluator=SORRY,
        ).text
        for s in seeds
    ]  # fmt: skip


def test_a_good_draft_found_only_by_roll_outs_is_committed_with_grafting():
    """One candidate per expansion: without grafting the tree only ever holds greedy sets."""
    plain = answers(False, range(8))
    grafted = answers(True, range(8))
    assert not any(" sorry" in text for text in plain)
    assert sum(" sorry" in text for text in grafted) >= 3


def test_grafting_works_with_parallel_leaves_and_keeps_the_budget():
    for text in answers(True, range(3), parallel_leaves=4):
        assert len(FakeBackend().tokenize(text)) <= SPARSE.max_new_tokens
