"""propose_with_rollout_many: several prefixes walked in one batch on a real (tiny) model.

The parallel leaves of a search and several searches sharing a backend send their proposals
together; each must get what it gets alone, in fewer forward calls.
"""

from __future__ import annotations

import pytest
from tiny_models import one_thread  # noqa: F401

from rain_guard.backends.base import ProposalRequest, RolloutSpec
from rain_guard.backends.transformers import TransformersBackend
from rain_guard.errors import BackendError


@pytest.fixture(scope="module")
def prefixes(model, tokenizer) -> list[tuple[int, ...]]:
    backend = TransformersBackend(model, tokenizer)
    base = backend.chat_prompt_ids([("user", "How do I bake a cake?")])
    more = backend.tokenize(" Mix flour")
    other = backend.chat_prompt_ids([("user", "Hello there. How are you today?")])
    return [tuple(base), tuple(base + more), tuple(base + more[:1]), tuple(other)]


def request(prefix, seed, length=4, num=5, **kw) -> ProposalRequest:
    return ProposalRequest(prefix, num_candidates=num, length=length, top_k=8, seed=seed, **kw)


def specs(n: int, **kw) -> list[RolloutSpec]:
    return [RolloutSpec(",.?:;\n", 10, seed=100 + i, **kw) for i in range(n)]


def test_each_request_gets_what_it_gets_alone(model, tokenizer, prefixes):
    together, alone = TransformersBackend(model, tokenizer), TransformersBackend(model, tokenizer)
    requests = [request(p, seed=i, length=2 + i % 3) for i, p in enumerate(prefixes)]
    rolls = specs(len(requests))
    batched = together.propose_with_rollout_many(requests, rolls)
    for (cands, roll), req, spec in zip(batched, requests, rolls, strict=True):
        solo_cands, solo_roll = alone.propose_with_rollout(req, **spec.kwargs())
        assert [c.tokens for c in cands] == [c.tokens for c in solo_cands]
        assert [c.logprob for c in cands] == pytest.approx(
            [c.logprob for c in solo_cands], abs=1e-4
        )
        assert roll == solo_roll
    assert together.counters.forward_calls < alone.counters.forward_calls


def test_one_token_sets_greedy_runs_and_exclusions_mix_in_one_batch(model, tokenizer, prefixes):
    together, alone = TransformersBackend(model, tokenizer), TransformersBackend(model, tokenizer)
    first = request(prefixes[0], seed=1, length=1)
    greedy = request(prefixes[1], seed=2, num=1)
    known = alone.propose([request(prefixes[2], seed=3, length=3)])[0][0].tokens
    excluding = request(prefixes[2], seed=3, length=3, exclude=frozenset({known}))
    reqs = [first, greedy, excluding]
    rolls = [
        RolloutSpec(".", 6, 1),
        RolloutSpec(".", 6, 2, temperature=0.0),
        RolloutSpec(".", 6, 3),
    ]
    batched = together.propose_with_rollout_many(reqs, rolls)
    fresh = TransformersBackend(model, tokenizer)
    for (cands, roll), req, spec in zip(batched, reqs, rolls, strict=True):
        solo = fresh.propose_with_rollout(req, **spec.kwargs())
        assert [c.tokens for c in cands] == [c.tokens for c in solo[0]]
        assert roll == solo[1]
    assert known not in [c.tokens for c in batched[2][0]]


def test_walked_sets_are_kept_for_later_expansions(model, tokenizer, prefixes):
    backend = TransformersBackend(model, tokenizer)
    requests = [request(p, seed=i) for i, p in enumerate(prefixes[:2])]
    batched = backend.propose_with_rollout_many(requests, specs(2))
    chosen = batched[1][0][1].tokens
    before = backend.counters.tokens_processed
    backend.propose([request(prefixes[1] + chosen, seed=9)])
    # the set's walked positions are kept: expanding it feeds its last token, then walks
    first_call_tokens = backend.counters.tokens_processed - before
    assert first_call_tokens < len(prefixes[1]) + len(chosen)


def test_mismatched_lengths_and_bad_requests_are_backend_errors(model, tokenizer, prefixes):
    backend = TransformersBackend(model, tokenizer)
    with pytest.raises(BackendError, match="roll-out"):
        backend.propose_with_rollout_many([request(prefixes[0], 0)], [])
    with pytest.raises(BackendError, match="num_candidates"):
        backend.propose_with_rollout_many([request(prefixes[0], 0, num=0)] * 2, specs(2))


def test_rollouts_of_many_prefixes_equal_each_alone(model, tokenizer, prefixes):
    together, alone = TransformersBackend(model, tokenizer), TransformersBackend(model, tokenizer)
    rolls = [*specs(3), RolloutSpec(",.?:;\n", 10, seed=7, temperature=0.0)]
    batched = together.rollout_many(prefixes, rolls)
    solo = [alone.rollout([p], **s.kwargs())[0] for p, s in zip(prefixes, rolls, strict=True)]
    assert batched == solo
    assert any(len(r) > 1 for r in batched)
    assert together.counters.forward_calls < alone.counters.forward_calls
