"""Cancelling ``ainvoke`` / ``astream`` stops the search within one iteration and frees the
model: once the cancelled task has finished, the backend gets no more calls from it and the
next call works.

ChatRAIN runs one graph super-step per executor hop; a cancel interrupts the wait, lets the
super-step in flight (at most one or two model calls) finish, then closes the search.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from rain_guard import ChatRAIN, FakeBackend
from rain_guard.backends.base import Candidate, ProposalRequest

DELAY = 0.03
SEARCH = {"use_similarity": False, "t_min": 2, "t_max": 4, "max_tokens": 200}
QUICK = {"use_similarity": False, "t_min": 1, "t_max": 1, "max_tokens": 1}


class CountingSlowFake(FakeBackend):
    """FakeBackend whose every model call takes DELAY seconds and is counted."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = 0

    def _call(self) -> None:
        self.calls += 1
        time.sleep(DELAY)

    def propose(self, requests: Sequence[ProposalRequest]) -> list[list[Candidate]]:
        self._call()
        return super().propose(requests)

    def rollout(self, prefixes: Sequence[Sequence[int]], **kwargs: Any) -> list[list[int]]:
        self._call()
        return super().rollout(prefixes, **kwargs)

    def option_probs(
        self, prompts: Sequence[Sequence[int]], option_ids: Sequence[int]
    ) -> list[list[float]]:
        self._call()
        return super().option_probs(prompts, option_ids)


async def wait_for_calls(backend: CountingSlowFake, n: int) -> None:
    async with asyncio.timeout(20):
        while backend.calls < n:
            await asyncio.sleep(0.005)


async def cancel_and_check(task: asyncio.Task, backend: CountingSlowFake) -> None:
    """Cancel ``task``; the search must stop within one iteration and then stay stopped."""
    at_cancel = backend.calls
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):  # never hang
            await task
    after = backend.calls
    assert after - at_cancel <= 2  # the super-step in flight: at most a roll-out + a judgement
    await asyncio.sleep(5 * DELAY)
    assert backend.calls == after  # nothing keeps running in a worker thread


async def test_cancelled_ainvoke_stops_and_frees_the_model():
    backend = CountingSlowFake()
    llm = ChatRAIN(backend=backend, **SEARCH)
    task = asyncio.create_task(llm.ainvoke("hi"))
    await wait_for_calls(backend, 8)
    await cancel_and_check(task, backend)
    message = await ChatRAIN(backend=backend, **QUICK).ainvoke("hi")  # the model is free again
    assert message.content
    assert message.response_metadata["stop_reason"] in ("length", "eos")


async def test_cancelled_astream_stops_and_frees_the_model():
    backend = CountingSlowFake()
    llm = ChatRAIN(backend=backend, **SEARCH)
    received: list[str] = []

    async def consume() -> None:
        async for chunk in llm.astream("hi"):
            received.append(chunk.content)

    task = asyncio.create_task(consume())
    await wait_for_calls(backend, 12)
    await cancel_and_check(task, backend)
    chunks = [c async for c in ChatRAIN(backend=backend, **QUICK).astream("hi")]
    assert chunks[-1].response_metadata["stop_reason"] in ("length", "eos")


async def test_wait_for_timeout_cancels_the_search():
    backend = CountingSlowFake()
    llm = ChatRAIN(backend=backend, **SEARCH)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(llm.ainvoke("hi"), timeout=0.3)
    after = backend.calls
    await asyncio.sleep(5 * DELAY)
    assert backend.calls == after
    assert (await ChatRAIN(backend=backend, **QUICK).ainvoke("hi")).content


async def test_breaking_out_of_astream_closes_the_search():
    backend = CountingSlowFake()
    llm = ChatRAIN(backend=backend, **SEARCH)
    stream = llm.astream("hi")
    async for chunk in stream:
        if chunk.content:
            break
    await stream.aclose()
    after = backend.calls
    await asyncio.sleep(5 * DELAY)
    assert backend.calls == after
