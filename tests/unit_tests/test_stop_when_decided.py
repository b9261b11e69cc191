"""SearchConfig.stop_when_decided: a commit's search ends once more iterations cannot change it."""

from __future__ import annotations

import zlib

import pytest

from rain_guard.backends.fake import FakeBackend
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search import steps
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import GenerationResult, rain_generate
from rain_guard.search.tree import ROOT, SearchTree


def graded(prompt: str, answer: str) -> float:
    """A judge with spread-out scores in [-1, 0.5), never good enough for an early commit."""
    return (zlib.crc32(answer.encode()) % 1500) / 1000 - 1.0


def run(config: SearchConfig) -> GenerationResult:
    return rain_generate(
        FakeBackend(), [("user", "how to bake a cake")], evaluator=FunctionEvaluator(graded),
        config=config,
    )  # fmt: skip


def tree_with_visits(*visits: float) -> SearchTree:
    tree = SearchTree()
    for i, n in enumerate(visits):
        kid = tree.add_child(ROOT, (i + 1,), 0.1)
        tree.visits[kid] = n
    return tree


@pytest.mark.parametrize("k", [1, 4])
def test_a_lead_larger_than_the_visits_left_decides(k):
    tree, config = tree_with_visits(12.0, 3.0), SearchConfig(parallel_leaves=k)
    lead = 9.0
    left = int(lead) - (k - 1)  # the rival could still tie: not decided
    assert not steps.decided(tree, config, 1, left)
    assert steps.decided(tree, config, 1, left - 1)
    assert not steps.decided(tree, config.replace(graft_rollouts=True), 1, 0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 3])
def test_the_first_commit_is_the_same_with_fewer_or_equal_iterations(seed, k):
    config = SearchConfig(max_new_tokens=1, t_min=2, t_max=30, rollout_max_tokens=3,
                          seed=seed, parallel_leaves=k)  # fmt: skip
    full, short = run(config), run(config.replace(stop_when_decided=True))
    assert short.token_ids == full.token_ids
    assert short.iterations <= full.iterations


def test_it_saves_iterations_on_a_whole_answer():
    config = SearchConfig(max_new_tokens=12, t_min=2, t_max=30, rollout_max_tokens=3)
    full, short = run(config), run(config.replace(stop_when_decided=True))
    assert short.iterations < full.iterations
    assert short.text
