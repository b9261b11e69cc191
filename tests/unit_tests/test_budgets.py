"""Budgets: wall time (``timeout`` / ``max_seconds``) and model tokens (``max_model_tokens``).

When one runs out the search stops after the iteration in progress and the answer committed
so far comes back, flagged in ``response_metadata`` ("budget_exhausted", "stop_reason"),
never a hang; ChatRAIN raises ``BudgetError`` only when nothing was committed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest

from rain_guard import BudgetError, ChatRAIN, FakeBackend
from rain_guard.backends.base import Candidate, ProposalRequest
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import rain_generate

SEARCH = {"use_similarity": False, "t_min": 2, "t_max": 4, "max_tokens": 400}
BUDGET_S = 1.0  # long enough for a first commit on a loaded machine, far from 400 tokens


class SlowFake(FakeBackend):
    """FakeBackend whose proposals take ``delay`` seconds (a model call's wall time)."""

    def __init__(self, delay: float = 0.02, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delay = delay

    def propose(self, requests: Sequence[ProposalRequest]) -> list[list[Candidate]]:
        time.sleep(self.delay)
        return super().propose(requests)


def committed_text(message: Any) -> str:
    return "".join(c["text"] for c in message.response_metadata["trace"]["commits"])


def test_time_budget_returns_the_answer_so_far():
    llm = ChatRAIN(backend=SlowFake(), timeout=BUDGET_S, **SEARCH)
    message = llm.invoke("hi")
    meta = message.response_metadata
    assert meta["stop_reason"] == "time_budget"
    assert meta["budget_exhausted"] is True
    assert meta["finish_reason"] == "length"  # cut short, like max_tokens
    assert message.content == committed_text(message)
    assert message.usage_metadata["output_tokens"] < 400


def test_token_budget_returns_the_answer_so_far():
    budget = 2500
    message = ChatRAIN(backend=FakeBackend(), max_model_tokens=budget, **SEARCH).invoke("hi")
    meta = message.response_metadata
    assert meta["stop_reason"] == "token_budget"
    assert meta["budget_exhausted"] is True
    used = meta["counters"]["tokens_processed"]
    assert budget <= used < budget + 1000  # checked after every iteration
    assert message.content  # some commits happened before the budget ran out
    assert message.content == committed_text(message)


@pytest.mark.parametrize(
    ("budget", "named"),
    [({"max_model_tokens": 1}, "max_model_tokens=1"), ({"timeout": 0.01}, "timeout=0.01")],
)
def test_a_budget_too_small_for_one_commit_raises_instead_of_an_empty_answer(budget, named):
    llm = ChatRAIN(backend=SlowFake(), **budget, **SEARCH)
    for call in (llm.invoke, lambda prompt: list(llm.stream(prompt))):
        with pytest.raises(BudgetError, match=named) as info:
            call("hi")
        assert "before any text was committed" in str(info.value)
    result = rain_generate(  # the plain API reports it in the result, as before
        SlowFake(), [("user", "hi")], evaluator=FunctionEvaluator(lambda p, a: 0.0),
        config=ChatRAIN(backend=SlowFake(), **budget, **SEARCH).search_config(),
    )  # fmt: skip
    assert result.text == "" and result.stop_reason in ("time_budget", "token_budget")


def test_without_a_budget_nothing_is_exhausted():
    message = ChatRAIN(backend=FakeBackend(), **{**SEARCH, "max_tokens": 6}).invoke("hi")
    assert message.response_metadata["budget_exhausted"] is False
    assert message.response_metadata["stop_reason"] in ("length", "eos")


def test_stream_ends_with_the_budget_flag():
    llm = ChatRAIN(backend=FakeBackend(), max_model_tokens=2500, **SEARCH)
    chunks = list(llm.stream("hi"))
    last = chunks[-1].response_metadata
    assert last["stop_reason"] == "token_budget"
    assert last["budget_exhausted"] is True
    assert "".join(c.content for c in chunks) == committed_text(chunks[-1])


async def test_async_time_budget():
    llm = ChatRAIN(backend=SlowFake(), timeout=BUDGET_S, **SEARCH)
    message = await llm.ainvoke("hi")
    assert message.response_metadata["stop_reason"] == "time_budget"


@pytest.mark.parametrize(
    ("budget", "reason"),
    [({"max_seconds": 0.3}, "time_budget"), ({"max_model_tokens": 800}, "token_budget")],
)
def test_plain_api_budgets(budget, reason):
    config = SearchConfig(t_min=2, t_max=4, max_new_tokens=400, **budget)
    result = rain_generate(
        SlowFake(), [("user", "hi")], evaluator=FunctionEvaluator(lambda p, a: 0.5), config=config
    )
    assert result.stop_reason == reason
    assert result.text == "".join(c["text"] for c in result.commits)
    assert result.iterations >= 1
