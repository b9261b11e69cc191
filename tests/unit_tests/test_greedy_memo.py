"""GreedyMemo: greedy continuations already decoded are found again by ids on their path."""

from __future__ import annotations

import torch

from rain_guard.backends.transformers.greedy_memo import GreedyMemo, GreedyStep


def steps(*tokens: int) -> list[GreedyStep]:
    return [GreedyStep(t, torch.tensor([2.0, 1.0, 0.0])) for t in tokens]


def test_ids_on_a_stored_run_know_what_follows():
    memo = GreedyMemo()
    memo.store([1, 2], steps(3, 4, 5))
    assert [s.token for s in memo.known([1, 2])] == [3, 4, 5]
    assert [s.token for s in memo.known([1, 2, 3, 4])] == [5]
    assert memo.known([1, 2, 3, 4, 5]) == []  # the run's end: nothing more is known
    assert memo.known([1]) == []  # before the point where the run turned greedy
    assert memo.known([1, 2, 9]) == []  # off the run


def test_a_longer_run_replaces_the_runs_it_covers_and_the_oldest_goes_first():
    memo = GreedyMemo(size=2)
    memo.store([1], steps(2))
    memo.store([1], steps(2, 3))  # covers the first
    memo.store([7], steps(8))
    assert [s.token for s in memo.known([1])] == [2, 3]
    memo.store([9], steps(10))  # a third run: the oldest kept one goes
    assert memo.known([1]) == [] and memo.known([7]) != []
    memo.clear()
    assert memo.known([7]) == []


def test_a_memo_of_size_zero_keeps_nothing():
    memo = GreedyMemo(size=0)
    memo.store([1], steps(2))
    assert memo.known([1]) == []


def test_a_steps_prior_is_its_share_of_the_top_k():
    step = GreedyStep(3, torch.tensor([2.0, 1.0, 0.0]))
    expected = 2.0 - torch.logsumexp(torch.tensor([2.0, 1.0]), dim=0).item()
    assert abs(step.logprob(2) - expected) < 1e-6
    assert step.logprob(1) == 0.0
