"""Searches batched in lockstep on a real (tiny) model: fewer forward calls, the same answers.

Counted, not timed: the shared backend's forward calls for B searches run together must not
exceed the sum of the same searches run alone, each on a fresh backend, and every batched
answer must equal its solo answer. Single-leaf roll-outs (k = 1, or a k-leaf pass with one
leaf left to roll out) are what made merged searches cost more calls than solo ones.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from tiny_models import one_thread  # noqa: F401

from rain_guard.backends.base import ProposalRequest, RolloutSpec
from rain_guard.backends.batching import SharedBatch, run_in_lockstep, run_pooled
from rain_guard.backends.fake import FakeBackend
from rain_guard.backends.transformers import TransformersBackend
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import GenerationResult, rain_generate

PROMPTS = ["hello there", "how are you today"]


def by_length(prompt: str, answer: str) -> float:
    """A judge with spread-out scores, so that searches branch and differ in length."""
    return (len(answer) % 7) / 7.0


def searched(
    model, tokenizer, prompts: list[str], k: int, width: int | None = None
) -> tuple[list[GenerationResult], int]:
    """The answers to ``prompts`` on a fresh backend, and its forward calls.

    All at once in lockstep, or ``width`` at a time in a pool (``run_pooled``).
    """
    config = SearchConfig(
        max_new_tokens=6,
        t_min=2,
        t_max=8,
        num_candidates=3,
        rollout_max_tokens=4,
        use_similarity=False,
        parallel_leaves=k,
    )
    backend = TransformersBackend(model, tokenizer)

    def search(view, prompt: str) -> GenerationResult:
        evaluator = FunctionEvaluator(by_length)
        return rain_generate(view, [("user", prompt)], config=config, evaluator=evaluator)

    if width is None:
        results = run_in_lockstep(backend, prompts, search, max_wait=30.0)
    else:
        results = run_pooled(backend, prompts, search, width=width, max_wait=30.0)
    return results, backend.counters.forward_calls


@pytest.mark.parametrize("k", [1, 4])
def test_batched_searches_make_fewer_calls_than_alone_and_answer_the_same(model, tokenizer, k):
    alone = [searched(model, tokenizer, [p], k) for p in PROMPTS]
    together, merged_calls = searched(model, tokenizer, PROMPTS, k)
    assert [r.text for r in together] == [results[0].text for results, _ in alone]
    assert [r.iterations for r in together] == [results[0].iterations for results, _ in alone]
    solo_calls = [calls for _, calls in alone]
    assert merged_calls < sum(solo_calls)
    assert merged_calls <= max(solo_calls) + min(solo_calls) // 2  # most calls were shared


@pytest.mark.parametrize("k", [1, 4])
def test_a_pool_of_two_answers_three_requests_as_alone_with_fewer_calls(model, tokenizer, k):
    prompts = [*PROMPTS, "To bake a cake"]
    alone = [searched(model, tokenizer, [p], k) for p in prompts]
    pooled, calls = searched(model, tokenizer, prompts, k, width=2)
    assert [r.text for r in pooled] == [results[0].text for results, _ in alone]
    assert [r.iterations for r in pooled] == [results[0].iterations for results, _ in alone]
    assert calls < sum(c for _, c in alone)


def concurrently(calls):
    """Run each zero-argument call on its own thread; their results in order."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_one_prefix_roll_outs_of_two_searches_share_one_walk(model, tokenizer):
    prefixes = [tokenizer.encode("hello there"), tokenizer.encode("To bake a cake")]
    settings = [dict(boundaries=".!?", max_tokens=6, seed=s) for s in (3, 4)]
    solo = []
    for prefix, kw in zip(prefixes, settings, strict=True):
        alone = TransformersBackend(model, tokenizer)
        solo.append((alone.rollout([prefix], **kw)[0], alone.counters.forward_calls))
    backend = TransformersBackend(model, tokenizer)
    batch = SharedBatch(backend, max_wait=30.0)
    views = [batch.view() for _ in prefixes]
    out = concurrently(
        [partial(v.rollout, [p], **kw) for v, p, kw in zip(views, prefixes, settings, strict=True)]
    )
    assert [o[0] for o in out] == [tokens for tokens, _ in solo]
    assert batch.merged_calls == 1
    assert backend.counters.forward_calls <= max(calls for _, calls in solo)


def test_an_expansion_and_a_bare_roll_out_of_two_searches_share_one_walk(model, tokenizer):
    request = ProposalRequest(
        tuple(tokenizer.encode("hello there")), num_candidates=3, length=2, top_k=5, seed=1
    )
    spec = RolloutSpec(boundaries=".!?", max_tokens=6, seed=3)
    prefix, bare = tokenizer.encode("To bake a cake"), RolloutSpec(".!?", max_tokens=6, seed=4)
    proposer, roller = TransformersBackend(model, tokenizer), TransformersBackend(model, tokenizer)
    proposed = proposer.propose_with_rollout_many([request], [spec])[0]
    rolled = roller.rollout_many([prefix], [bare])[0]
    backend = TransformersBackend(model, tokenizer)
    batch = SharedBatch(backend, max_wait=30.0)
    expanding, rolling = batch.view(), batch.view()
    ((candidates, roll),), (together,) = concurrently(
        [partial(expanding.propose_with_rollout_many, [request], [spec]),
         partial(rolling.rollout_many, [prefix], [bare])]
    )  # fmt: skip
    assert [c.tokens for c in candidates] == [c.tokens for c in proposed[0]]
    assert [c.logprob for c in candidates] == pytest.approx([c.logprob for c in proposed[0]])
    assert (roll, together) == (proposed[1], rolled)
    assert batch.merged_calls == 1  # one walk for both kinds
    assert backend.counters.forward_calls < (
        proposer.counters.forward_calls + roller.counters.forward_calls
    )


def test_a_view_is_charged_only_its_own_calls_that_run_one_by_one():
    backend = FakeBackend()
    prefixes = [backend.tokenize(text) for text in ("a b c", "d e f", "g h i", "j k l")]
    kw = dict(boundaries=".", max_tokens=3, seed=0)
    alone = FakeBackend()
    for text in ("a b c", "d e f", "g h i", "j k l"):
        alone.tokenize(text)
    alone.rollout(prefixes[:2], **kw)
    batch = SharedBatch(backend, max_wait=30.0)
    first, second = batch.view(), batch.view()
    concurrently(
        [partial(first.rollout, prefixes[:2], **kw), partial(second.rollout, prefixes[2:], **kw)]
    )
    assert first.counters.forward_calls == alone.counters.forward_calls
    assert first.counters.forward_calls + second.counters.forward_calls == (
        backend.counters.forward_calls
    )
