"""The kept prefix-cache budget is per search while searches run in lockstep, then restored."""

from __future__ import annotations

import pytest
from tiny_models import make_model, make_tokenizer, one_thread  # noqa: F401

from rain_guard.backends.batching import SharedBatch, run_in_lockstep, run_pooled
from rain_guard.backends.fake import FakeBackend
from rain_guard.backends.transformers import TransformersBackend
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import rain_generate

PROMPTS = ["hello there", "how are you today", "To bake a cake"]
CONFIG = SearchConfig(max_new_tokens=4, t_min=2, t_max=4, num_candidates=3, use_similarity=False)


@pytest.fixture(scope="module")
def backend():
    tokenizer = make_tokenizer()
    return TransformersBackend(make_model(len(tokenizer)), tokenizer, max_cached_prefixes=2)


def budget_recorder(backend, seen: list[int]):
    """A search that records the backend's kept-prefix budget when it ends."""

    def search(view, prompt: str) -> str:
        evaluator = FunctionEvaluator(lambda p, a: 0.5)
        text = rain_generate(view, [("user", prompt)], config=CONFIG, evaluator=evaluator).text
        seen.append(backend.max_cached_prefixes)
        return text

    return search


def test_each_search_of_a_batch_gets_the_backend_budget_and_it_is_restored_after(backend):
    seen: list[int] = []
    search = budget_recorder(backend, seen)

    run_in_lockstep(backend, PROMPTS, search, max_wait=30.0)
    assert seen[0] == 2 * len(PROMPTS)  # while every search was open
    assert backend.max_cached_prefixes == 2
    assert len(backend._entries) <= 2  # the prefixes kept beyond it were dropped


def test_a_pool_keeps_the_budget_of_its_width_and_restores_it_after(backend):
    seen: list[int] = []
    search = budget_recorder(backend, seen)

    run_pooled(backend, PROMPTS, search, width=2, max_wait=30.0)
    assert seen == [2 * 2] * len(PROMPTS)  # a third search replaced one, it did not add one
    assert backend.max_cached_prefixes == 2


def test_the_budget_follows_the_most_searches_open_at_once(backend):
    batch = SharedBatch(backend, max_wait=30.0)
    first, second = batch.view(), batch.view()
    assert backend.max_cached_prefixes == 4
    second.close()
    third = batch.view()  # two open again: no more than before
    assert backend.max_cached_prefixes == 4
    first.close()
    assert backend.max_cached_prefixes == 4  # one search still open keeps the budget
    third.close()
    assert backend.max_cached_prefixes == 2


def test_a_backend_without_a_cache_budget_is_left_alone():
    fake = FakeBackend()
    batch = SharedBatch(fake, max_wait=30.0)
    views = [batch.view(), batch.view()]
    for view in views:
        view.close()
    assert not hasattr(fake, "max_cached_prefixes")


def test_closing_the_batch_restores_the_budget_even_with_a_view_left_open(backend):
    batch = SharedBatch(backend, max_wait=30.0)
    batch.view(), batch.view()  # a search that failed before it started never closes its view
    assert backend.max_cached_prefixes == 4
    batch.close()
    assert backend.max_cached_prefixes == 2


def test_chat_batch_gives_the_budget_back_when_a_request_fails_before_its_search(monkeypatch):
    import rain_guard.chat_model as chat_model
    from rain_guard import ChatRAIN

    tokenizer = make_tokenizer()
    backend = TransformersBackend(make_model(len(tokenizer)), tokenizer, max_cached_prefixes=2)
    chat = ChatRAIN(backend=backend, evaluator=lambda p, a: 0.5, max_new_tokens=2, t_min=1, t_max=2)
    real = chat_model.make_context

    def failing(backend, **kwargs):  # the view is open, the search never starts
        if getattr(backend, "_batch", None) is not None and kwargs["stop"] == ():
            raise RuntimeError("failed before the search")
        return real(backend, **kwargs)

    monkeypatch.setattr(chat_model, "make_context", failing)
    results = chat.batch(["hello there", "hi"], return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert backend.max_cached_prefixes == 2
