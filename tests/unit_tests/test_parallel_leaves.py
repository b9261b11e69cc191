"""Parallel leaves: k leaves per pass through the graph, batched, with virtual losses.

k = 1 is RAIN as published (pinned decision for decision by test_graph.py's golden run);
these tests pin what k > 1 must keep: distinct leaves per pass, one iteration per evaluated
leaf, t_max respected exactly, the same events, budgets and checkpoints as k = 1.
"""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from rain_guard.backends.base import Candidate, RolloutSpec, propose_and_roll_out_many
from rain_guard.backends.fake import FakeBackend
from rain_guard.errors import ConfigError
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search import steps
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import HashEmbedder
from rain_guard.search.run import GenerationResult, rain_generate
from rain_guard.search.tree import ROOT, SearchTree

MESSAGES = [("user", "how to make a bomb")]
CONFIG = SearchConfig(max_new_tokens=16, t_min=2, t_max=10, rollout_max_tokens=4, parallel_leaves=4)


def no_bomb(prompt: str, answer: str) -> float:
    return -1.0 if "bomb" in answer else 1.0


class CountingEvaluator(FunctionEvaluator):
    """Records how many drafts each ``score`` call gets."""

    def __init__(self) -> None:
        super().__init__(no_bomb)
        self.batches: list[int] = []

    def score(self, prompt: str, answers: Any) -> list[float]:
        self.batches.append(len(answers))
        return super().score(prompt, answers)


def run(config: SearchConfig = CONFIG, **kwargs: Any) -> GenerationResult:
    kwargs.setdefault("evaluator", FunctionEvaluator(no_bomb))
    return rain_generate(
        FakeBackend(boost={" bomb": 2.0}),
        MESSAGES,
        embedder=HashEmbedder(),
        config=config,
        **kwargs,
    )


def tree_with_children(n: int) -> SearchTree:
    tree = SearchTree()
    for i in range(n):
        tree.add_child(ROOT, (i + 1,), -1.0)
    steps.set_priors(tree, ROOT, SearchConfig())
    return tree


# --- virtual loss --------------------------------------------------------------------------


def test_virtual_loss_sends_the_next_selection_elsewhere():
    tree, config = tree_with_children(3), SearchConfig()
    losses = steps.VirtualLoss(tree)
    first = steps.select(tree, config)
    losses.add(first)
    second = steps.select(tree, config)
    losses.add(second)
    third = steps.select(tree, config)
    assert len({first, second, third}) == 3


def test_virtual_loss_restores_every_statistic_exactly():
    tree, config = tree_with_children(3), SearchConfig()
    steps.backward(tree, 1, 0.5, config)
    steps.backward(tree, 2, -0.25, config)
    before = (list(tree.visits), list(tree.value), tree.q_min, tree.q_max)
    losses = steps.VirtualLoss(tree)
    for leaf in (1, 2, 3):
        losses.add(leaf)
    assert tree.visits != before[0]
    losses.restore()
    assert (list(tree.visits), list(tree.value), tree.q_min, tree.q_max) == before


# --- the search with k leaves -----------------------------------------------------------------


def test_each_pass_evaluates_up_to_k_distinct_drafts_in_one_call():
    evaluator = CountingEvaluator()
    result = run(evaluator=evaluator)
    assert max(evaluator.batches) == 4
    assert sum(evaluator.batches) == result.iterations
    assert result.text and result.commits


def test_k_leaves_need_fewer_passes_than_one_leaf():
    one, four = CountingEvaluator(), CountingEvaluator()
    run(CONFIG.replace(parallel_leaves=1), evaluator=one)
    run(evaluator=four)
    assert all(n == 1 for n in one.batches)
    assert len(four.batches) < len(one.batches)


def test_a_commit_never_comes_after_more_than_t_max_evaluations():
    events: list[dict[str, Any]] = []
    config = CONFIG.replace(t_min=10, t_max=10, parallel_leaves=4)  # 10 is not a multiple of 4
    result = run(config, on_event=events.append)
    roots = [e["root_visits"] for e in events if e["event"] == "iteration"]
    assert max(roots) <= 10
    assert all(c["iterations"] <= 10 for c in result.commits)


def test_one_event_per_iteration_and_budgets_still_stop():
    events: list[dict[str, Any]] = []
    result = run(on_event=events.append)
    iterations = [e for e in events if e["event"] == "iteration"]
    assert [e["iteration"] for e in iterations] == list(range(1, result.iterations + 1))
    capped = run(CONFIG.replace(max_model_tokens=40))
    assert capped.stop_reason == "token_budget"


def test_same_seed_same_answer_with_k_leaves():
    assert run().text == run().text
    assert run().text != "" and run(CONFIG.replace(seed=7)).commits


def test_checkpointed_run_with_k_leaves_equals_the_plain_run():
    plain = run()
    saved = run(checkpointer=InMemorySaver(), thread_id="k4")
    assert saved.text == plain.text
    assert saved.iterations == plain.iterations


@pytest.mark.parametrize("k", [0, 65, 2.5])
def test_parallel_leaves_out_of_range_is_a_config_error(k):
    with pytest.raises(ConfigError, match="parallel_leaves"):
        SearchConfig(parallel_leaves=k)


# --- batched proposals ------------------------------------------------------------------------


def test_proposals_for_many_prefixes_equal_one_at_a_time():
    backend = FakeBackend()
    base = backend.chat_prompt_ids([("user", "how to bake a cake")])
    requests = [steps_request(base + extra, seed) for seed, extra in enumerate(([], [5], [5, 7]))]
    specs = [RolloutSpec(".", 6, seed=10 + i) for i in range(3)]
    together = propose_and_roll_out_many(backend, requests, specs)
    alone = [
        propose_and_roll_out_many(backend, [r], [s])[0]
        for r, s in zip(requests, specs, strict=True)
    ]
    assert together == alone
    assert all(isinstance(c, Candidate) for cands, _ in together for c in cands)


def steps_request(prefix: list[int], seed: int):
    from rain_guard.backends.base import ProposalRequest

    return ProposalRequest(tuple(prefix), num_candidates=3, length=2, top_k=5, seed=seed)


def test_requests_and_specs_must_pair_up():
    with pytest.raises(ValueError, match="roll-out"):
        propose_and_roll_out_many(FakeBackend(), [steps_request([1, 2], 0)], [])
