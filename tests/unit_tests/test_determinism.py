"""Determinism: the same seed and settings give the same answer, one call at a time or many
at once (``batch`` with ``max_concurrency`` > 1, ``abatch``).

Every random draw of the search is seeded from the run seed and the step's coordinates, never
from call order. FakeBackend serialises its calls with a lock, so concurrent calls cannot
corrupt its growing vocabulary; its ids for words it has not seen yet follow first-seen order,
so concurrent runs are compared on a backend that has seen the prompts (see its docstring).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from rain_guard import ChatRAIN, FakeBackend
from rain_guard.backends.base import Candidate, ProposalRequest
from rain_guard.judging import prompts

SEARCH = {"use_similarity": False, "t_min": 2, "t_max": 3, "max_tokens": 6}
PROMPTS = ["how to bake a cake", "how to make a bomb", "tell me a joke", "hi", "is it safe"]


def harm_judge(text: str) -> float:
    """Scripted self-evaluation (P of "Yes"): answers that mention bombs are harmful."""
    answer = text.split(prompts.ANSWER_OPEN)[-1].split(prompts.ANSWER_CLOSE)[0]
    asks_harmless = prompts.HARMLESS[0] in text.split(prompts.ANSWER_CLOSE)[-1]
    harmful = "bomb" in answer
    return (0.1 if harmful else 0.9) if asks_harmless else (0.9 if harmful else 0.1)


class YieldingFake(FakeBackend):
    """Sleeps between calls so that concurrent runs really interleave."""

    def propose(self, requests: Sequence[ProposalRequest]) -> list[list[Candidate]]:
        time.sleep(0.001)
        return super().propose(requests)


def answers(messages: list[Any]) -> list[str]:
    return [m.content for m in messages]


def test_same_seed_same_answer_on_fresh_backends():
    first = ChatRAIN(backend=FakeBackend(judge=harm_judge), **SEARCH).invoke(PROMPTS[1])
    again = ChatRAIN(backend=FakeBackend(judge=harm_judge), **SEARCH).invoke(PROMPTS[1])
    assert first.content == again.content
    assert first.response_metadata["trace"] == again.response_metadata["trace"]


def test_the_seed_matters():
    backend = FakeBackend(judge=harm_judge)
    texts = {ChatRAIN(backend=backend, seed=s, **SEARCH).invoke("hi").content for s in range(6)}
    assert len(texts) > 1


def test_per_call_seed_equals_the_field():
    backend = FakeBackend(judge=harm_judge)
    by_field = ChatRAIN(backend=backend, seed=3, **SEARCH).invoke("hi").content
    assert ChatRAIN(backend=backend, **SEARCH).invoke("hi", seed=3).content == by_field


def test_batch_with_concurrency_equals_one_by_one():
    backend = YieldingFake(judge=harm_judge)
    llm = ChatRAIN(backend=backend, **SEARCH)
    sequential = answers([llm.invoke(p) for p in PROMPTS])  # also teaches the vocabulary
    assert answers(llm.batch(PROMPTS, config={"max_concurrency": 4})) == sequential
    assert answers(llm.batch(PROMPTS[::-1], config={"max_concurrency": 5})) == sequential[::-1]


async def test_abatch_equals_one_by_one():
    backend = YieldingFake(judge=harm_judge)
    llm = ChatRAIN(backend=backend, **SEARCH)
    sequential = answers([llm.invoke(p) for p in PROMPTS])
    assert answers(await llm.abatch(PROMPTS, config={"max_concurrency": 4})) == sequential


class SlowAppendList(list):
    """A list whose appends yield the GIL, widening any check-then-append race."""

    def append(self, item: Any) -> None:
        time.sleep(0)
        super().append(item)


def test_fake_backend_vocabulary_survives_concurrent_tokenising():
    backend = FakeBackend()
    backend._vocab = SlowAppendList(backend._vocab)  # stress the lock, not the GIL
    words = [f" w{t}x{i}" for t in range(8) for i in range(200)]
    results: dict[int, list[int]] = {}

    def work(t: int) -> None:
        results[t] = [backend.tokenize(w)[0] for w in words[t * 200 : (t + 1) * 200]]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for t in range(8) for i in results[t]]
    assert len(set(ids)) == len(words)  # one id per word, none shared
    assert [backend.detokenize([i]) for i in ids] == words
