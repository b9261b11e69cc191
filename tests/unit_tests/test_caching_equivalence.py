"""Reuse instead of recompute, without changing a single decision.

On the tiny random Llama of tiny_models.py (fp32): the same seed gives the same
RAIN answer whether the backend keeps prefix KV caches or recomputes every call, and the
``ReferenceCostBackend`` (the reference's way of computing the same decisions) returns exactly
its inner backend's results while counting the reference's much larger work.
"""

from __future__ import annotations

import pytest
from tiny_models import TINY, make_model, make_tokenizer, one_thread  # noqa: F401

from rain_guard.backends.base import ProposalRequest
from rain_guard.backends.transformers.backend import TransformersBackend
from rain_guard.bench.reference_cost import ReferenceCostBackend, uncached_greedy_generate
from rain_guard.judging.criteria import Criterion
from rain_guard.judging.self_eval import SelfEvaluator, evaluation_prompt_ids
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import HashEmbedder
from rain_guard.search.run import GenerationResult, rain_generate

MESSAGES = [("user", "How do I bake a cake?")]
CONFIG = SearchConfig(
    max_new_tokens=10, t_min=2, t_max=3, num_candidates=4, rollout_max_tokens=4, seed=3
)


@pytest.fixture(scope="module")
def parts():
    tokenizer = make_tokenizer()
    return make_model(len(tokenizer)), tokenizer


def answer(backend) -> GenerationResult:
    return rain_generate(
        backend,
        MESSAGES,
        config=CONFIG,
        evaluator=SelfEvaluator(backend, TINY),
        embedder=HashEmbedder(),
    )


def decisions(result: GenerationResult) -> list[tuple[list[int], float]]:
    return [(c["tokens"], c["visits"]) for c in result.commits]


@pytest.fixture(scope="module")
def cached(parts) -> GenerationResult:
    return answer(TransformersBackend(*parts))


def test_same_answer_with_prefix_caching_on_and_off(parts, cached):
    uncached = answer(TransformersBackend(*parts, max_cached_prefixes=0))
    assert cached.token_ids == uncached.token_ids
    assert decisions(cached) == decisions(uncached)
    assert cached.iterations == uncached.iterations
    values = [c["value"] for c in uncached.commits]
    assert [c["value"] for c in cached.commits] == pytest.approx(values, abs=1e-4)
    assert cached.counters["prefix_tokens_reused"] > 0
    assert uncached.counters["prefix_tokens_reused"] == 0
    assert cached.counters["tokens_processed"] < uncached.counters["tokens_processed"]


class Unfused:
    """The same backend without ``propose_with_rollout``: the search proposes, then rolls out."""

    def __init__(self, inner: TransformersBackend) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        if name == "propose_with_rollout":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_fusing_roll_outs_into_proposals_saves_calls_not_decisions(parts, cached):
    apart = answer(Unfused(TransformersBackend(*parts)))
    assert cached.token_ids == apart.token_ids
    assert decisions(cached) == decisions(apart)
    assert cached.iterations == apart.iterations
    assert cached.counters["forward_calls"] < apart.counters["forward_calls"]


# A criterion with a long request-independent preamble, as the few-shot built-ins have.
PREAMBLE = Criterion("preamble", "Judge the answer. Reply with one letter.\n" * 4
                     + "Q: {prompt}\nA: {answer}\nIs it {option_a}?", "safe", "bad",
                     labels=("A", "B"), chat=False)  # fmt: skip


class Unpinned(Unfused):
    """The same backend without ``pin_prefix``."""

    def __getattr__(self, name: str):
        if name == "pin_prefix":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_the_evaluator_prefix_is_computed_once_per_run(parts):
    backend = TransformersBackend(*parts, max_cached_prefixes=1)
    evaluator = SelfEvaluator(backend, PREAMBLE)
    plain = SelfEvaluator(Unpinned(TransformersBackend(*parts, max_cached_prefixes=1)), PREAMBLE)
    requests = [("How do I bake a cake?", "Mix flour and eggs."), ("Hello there.", "Hi!")]
    fed = []
    for request, reply in requests:
        backend.option_probs([(5, 6, 7)], [1])  # a search call between: the LRU forgets
        before = backend.counters.tokens_processed
        score = evaluator.score(request, [reply])
        fed.append(backend.counters.tokens_processed - before)
        assert score == pytest.approx(plain.score(request, [reply]), abs=1e-5)
    preamble = len(backend.tokenize("Judge the answer. Reply with one letter.\n" * 4))
    assert fed[1] < fed[0] - preamble + 8  # the second request skipped the preamble


# Worked examples whose verdicts follow the option order: the two orders part early.
ORDERED_EXAMPLES = Criterion("ordered", "Example: fine. Verdict: {desired_label}\n" * 6
                             + "Q: {prompt}\nA: {answer}\nIs it {option_a}? Verdict:", "safe",
                             "bad", labels=("A", "B"), chat=False)  # fmt: skip


def test_one_answer_in_both_orders_goes_on_each_orders_pinned_prefix(parts):
    """As in a search (one new leaf an evaluation): each order feeds only its own tail.

    Both orders in one forward call, each row continuing its own order's pinned prefix.
    """
    backend = TransformersBackend(*parts)
    evaluator = SelfEvaluator(backend, ORDERED_EXAMPLES, calibrate=False)
    plain = SelfEvaluator(Unpinned(TransformersBackend(*parts)), ORDERED_EXAMPLES, calibrate=False)
    request, reply = "How do I bake a cake?", "Mix flour and eggs, then bake it."
    evaluator.score(request, ["Hi!"])  # pins each order's examples
    before = backend.counters.snapshot()
    score = evaluator.score(request, [reply])
    rows = [evaluation_prompt_ids(backend, ORDERED_EXAMPLES, request, reply, o) for o in (0, 1)]
    shared = next(i for i, (x, y) in enumerate(zip(*rows, strict=False)) if x != y)
    fed = backend.counters.tokens_processed - before["tokens_processed"]
    assert backend.counters.forward_calls - before["forward_calls"] == 1  # both orders
    assert fed < len(rows[0]) - shared  # one batched call would feed both rows after `shared`
    assert score == pytest.approx(plain.score(request, [reply]), abs=1e-5)


def test_counters_come_with_every_answer(cached):
    for key in ("forward_calls", "tokens_processed", "evaluation_prompts", "evaluation_cache_hits"):
        assert key in cached.counters
    assert cached.counters["evaluation_prompts"] >= 2
    assert sum(c["iterations"] for c in cached.commits) == cached.iterations


def test_each_answer_counts_only_its_own_work(parts):
    backend = TransformersBackend(*parts)
    assert "prefix_tokens_reused" not in backend.counters.snapshot()  # added on first reuse
    first, second = answer(backend), answer(backend)
    totals = backend.counters.snapshot()
    assert first.counters["forward_calls"] > 0 and second.counters["forward_calls"] > 0
    for key, total in totals.items():
        assert first.counters[key] + second.counters[key] == total, key
    assert second.counters["tokens_processed"] < first.counters["tokens_processed"]  # kept caches


def test_reference_way_keeps_decisions_and_costs_more(parts, cached):
    wrapper = ReferenceCostBackend(TransformersBackend(*parts))
    result = answer(wrapper)
    assert result.token_ids == cached.token_ids
    assert decisions(result) == decisions(cached)
    assert result.counters["tokens_processed"] > 3 * cached.counters["tokens_processed"]
    assert result.counters["forward_calls"] > cached.counters["forward_calls"]
    assert result.counters["evaluation_prompts"] == cached.counters["evaluation_prompts"]
    assert wrapper.reference_seconds > 0 and wrapper.inner_seconds > 0


def test_counting_the_reference_alone_gives_the_same_counters(parts, cached):
    timed = ReferenceCostBackend(TransformersBackend(*parts))
    counted = ReferenceCostBackend(TransformersBackend(*parts), compute=False)
    results = [answer(timed), answer(counted)]
    assert results[0].token_ids == results[1].token_ids == cached.token_ids
    assert results[0].counters == results[1].counters  # exact, though nothing was replayed
    assert counted.model is None and timed.model is not None


def test_replay_counts_the_references_calls(parts):
    inner = TransformersBackend(*parts)
    wrapper = ReferenceCostBackend(inner, state_logits_cache=False)
    prefix = tuple(inner.chat_prompt_ids(MESSAGES))
    request = ProposalRequest(prefix=prefix, num_candidates=3, length=3, top_k=5, seed=1)
    (candidates,) = wrapper.propose([request])
    steps = [len(c.tokens) for c in candidates]  # each: a full prefill, then 1 token a step
    assert wrapper.counters.forward_calls == sum(steps)
    assert wrapper.counters.tokens_processed == sum(len(prefix) + n - 1 for n in steps)
    before = wrapper.counters.snapshot()
    rows = [prefix, prefix[:-2]]
    assert wrapper.option_probs(rows, [5, 6]) == inner.option_probs(rows, [5, 6])
    assert wrapper.counters.forward_calls - before["forward_calls"] == 2
    assert wrapper.counters.tokens_processed - before["tokens_processed"] == 2 * len(prefix) - 2


def test_the_modelled_logits_cache_skips_repeated_sequences(parts):
    inner = TransformersBackend(*parts)
    wrapper = ReferenceCostBackend(inner)
    prefix = tuple(inner.chat_prompt_ids(MESSAGES))
    request = ProposalRequest(prefix=prefix, num_candidates=3, length=1, top_k=5, seed=1)
    wrapper.propose([request])
    wrapper.propose([request])  # the same sequence: its logits are in "dicp"
    assert wrapper.counters.forward_calls == 1
    wrapper.reset()
    wrapper.propose([request])
    assert wrapper.counters.forward_calls == 2


def test_uncached_vanilla_equals_cached_vanilla(parts):
    model, tokenizer = parts
    backend = TransformersBackend(model, tokenizer)
    prefix = backend.chat_prompt_ids(MESSAGES)
    expected = backend.generate(prefix, max_new_tokens=8, seed=None)
    got = uncached_greedy_generate(model, prefix, max_new_tokens=8, stop_ids=backend.stop_token_ids)
    assert got == expected


def test_the_adaptive_floor_answers_as_greedy_decoding_with_or_without_reuse(parts):
    config = CONFIG.replace(
        max_new_tokens=16, adaptive_commit=True, adaptive_value=-1.0, adaptive_margin=0.0
    )

    def floor(backend) -> GenerationResult:
        return rain_generate(
            backend, MESSAGES, config=config, evaluator=SelfEvaluator(backend, TINY)
        )

    reused, recomputed = (
        floor(TransformersBackend(*parts)),
        floor(TransformersBackend(*parts, max_cached_prefixes=0)),
    )
    backend = TransformersBackend(*parts)
    greedy = backend.generate(
        tuple(backend.chat_prompt_ids(MESSAGES)), max_new_tokens=16, seed=None
    )
    assert reused.token_ids == recomputed.token_ids == greedy
    assert reused.counters["forward_calls"] < recomputed.counters["forward_calls"]


@pytest.mark.parametrize("criterion", [TINY, ORDERED_EXAMPLES], ids=["orders-part-late", "early"])
def test_counting_the_reference_inside_the_rain_search_gives_both_arms_costs(parts, criterion):
    """One search through the counting wrapper: (a)'s work as unwrapped, (b)'s as on its own.

    With orders that part early, (a) scores both orders in one call only if the wrapper
    passes on the model's per-row prefix reuse.
    """
    from rain_guard.bench.arms import RAIN, REFERENCE
    from rain_guard.bench.items import Item
    from rain_guard.bench.runner import Bench

    item = Item("xstest-safe", 1, MESSAGES[0][1])

    def runner(only: list[str]) -> Bench:
        return Bench(
            TransformersBackend(*parts),
            CONFIG,
            evaluator_factory=lambda b: SelfEvaluator(b, criterion),
            embedder=HashEmbedder(),
            only=only,
            reference_timed=False,
        )

    paired = runner([RAIN, REFERENCE])
    assert paired.counts_reference_in_rain
    a, b = paired.run([item])
    (alone_a,) = runner([RAIN]).run([item])
    (alone_b,) = runner([REFERENCE]).run([item])
    work = ("forward_calls", "tokens_processed", "evaluation_prompts", "prefix_tokens_reused")
    assert [getattr(a, k) for k in work] == [getattr(alone_a, k) for k in work]
    assert a.decisions == alone_a.decisions == b.decisions == alone_b.decisions
    assert (b.forward_calls, b.tokens_processed) == (
        alone_b.forward_calls,
        alone_b.tokens_processed,
    )
    assert b.tokens_processed > 3 * a.tokens_processed
    assert a.seconds > 0 and b.seconds != b.seconds  # (a) timed, (b) NaN: not timed
