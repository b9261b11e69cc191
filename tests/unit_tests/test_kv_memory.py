"""KV-cache memory: what the backend's caches hold, and the bench's cache-memory column.

On the tiny random Llama of tiny_models.py (2 layers, 2 key/value heads of 8: 256 bytes a
token in fp32). The numbers are exact: they are the storages the caches hold, which is what a
user reads in `rain-guard bench` to see what prefix reuse costs in memory.
"""

from __future__ import annotations

import pytest
import torch
from tiny_models import TINY, make_model, make_tokenizer, one_thread  # noqa: F401
from transformers import DynamicCache

from rain_guard.backends.base import ProposalRequest
from rain_guard.backends.transformers.backend import TransformersBackend
from rain_guard.backends.transformers.kv_memory import KVMemoryMeter, kv_bytes_per_token, storages
from rain_guard.bench.aggregate import ALL, ArmTotals, ratio_rows, totals
from rain_guard.bench.arms import PAPER_VANILLA, RAIN, REFERENCE, VANILLA, ArmRun
from rain_guard.bench.items import Item
from rain_guard.bench.reference_cost import ReferenceCostBackend
from rain_guard.bench.report import markdown
from rain_guard.bench.runner import Bench
from rain_guard.cli.app import build_parser
from rain_guard.errors import ConfigError
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import HashEmbedder
from rain_guard.search.run import rain_generate

MESSAGES = [("user", "How do I bake a cake?")]


@pytest.fixture(scope="module")
def parts():
    tokenizer = make_tokenizer()
    return make_model(len(tokenizer)), tokenizer


@pytest.fixture
def backend(parts) -> TransformersBackend:
    return TransformersBackend(*parts, model_name="tiny-llama")


@pytest.fixture(scope="module")
def per_token(parts) -> int:
    return kv_bytes_per_token(parts[0])


def test_bytes_per_token_match_a_real_cache(parts, per_token):
    model, _ = parts
    assert per_token == 2 * 2 * 2 * 8 * 4  # (k, v) x layers x kv heads x head size x fp32
    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        model(input_ids=torch.tensor([[5, 6, 7, 8, 9]]), cache=cache, use_cache=True)
    assert sum(storages([cache]).values()) == 5 * per_token


def test_a_shared_storage_counts_once(parts):
    model, _ = parts
    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        model(input_ids=torch.tensor([[5, 6, 7, 8]]), cache=cache, use_cache=True)
    meter = KVMemoryMeter()
    meter.keep([cache], [])
    held = meter.kept_bytes
    meter.observe(cache)  # the cache in use is the kept one: nothing more is held
    assert meter.peak_bytes == held > 0
    meter.keep([], [])
    meter.reset_peak()
    assert meter.peak_bytes == 0


def test_vanilla_holds_the_prompt_cache_and_the_decoding_cache(backend, per_token):
    prompt = backend.chat_prompt_ids(MESSAGES)
    backend.kv_memory.reset_peak()
    new = backend.generate(prompt, max_new_tokens=6, seed=None)
    fed = len(new) if len(new) < 6 else len(new) - 1  # the last token is never fed
    kept = len(prompt) * per_token  # the prompt's cache, kept for reuse
    decoding = (len(prompt) + fed) * per_token if fed else 0  # a fork, grown by each token
    assert backend.kv_memory.peak_bytes == kept + decoding
    assert backend.kv_memory.kept_bytes == kept


def test_pinned_prefixes_are_reported_apart(backend, per_token):
    prefix = backend.tokenize("Judge the answer. Reply with one letter.\n")
    backend.pin_prefix(prefix)
    assert backend.kv_memory.pinned_bytes == len(prefix) * per_token
    backend.kv_memory.reset_peak()
    assert backend.kv_memory.peak_bytes == 0  # the pinned prefix is not the request's
    row = [*prefix, *backend.tokenize("Q: hi\nA: hello\nIs it safe?")]
    backend.option_probs([row], [5, 6])
    assert backend.kv_memory.peak_bytes == len(row) * per_token
    backend.clear_cache(keep_pinned=True)
    assert backend.kv_memory.kept_bytes == 0
    assert backend.kv_memory.pinned_bytes == len(prefix) * per_token
    backend.clear_cache()
    assert backend.kv_memory.pinned_bytes == 0


def test_max_cached_prefixes_bounds_what_is_kept(parts, per_token):
    backend = TransformersBackend(*parts, max_cached_prefixes=1)
    prompts = [backend.chat_prompt_ids([("user", text)]) for text in ("one", "two two", "three")]
    for prompt in prompts:
        backend.generate(prompt, max_new_tokens=1, seed=None)
    assert backend.kv_memory.kept_bytes == len(prompts[-1]) * per_token


def test_a_batched_walk_holds_its_rows(backend, per_token):
    prefix = tuple(backend.chat_prompt_ids(MESSAGES))
    backend.kv_memory.reset_peak()
    request = ProposalRequest(prefix=prefix, num_candidates=4, length=3, top_k=8, seed=1)
    (candidates,) = backend.propose([request])
    assert len(candidates) >= 2
    # At least two distinct rows, each with the prefix and a token, beside the kept prefix.
    assert backend.kv_memory.peak_bytes >= (len(prefix) + 2 * (len(prefix) + 1)) * per_token


def test_the_reference_holds_one_walk_and_its_logits_dict(parts, per_token):
    inner = TransformersBackend(*parts)
    wrapper = ReferenceCostBackend(inner, compute=False)
    prefix = tuple(inner.chat_prompt_ids(MESSAGES))
    request = ProposalRequest(prefix=prefix, num_candidates=3, length=3, top_k=5, seed=1)
    (candidates,) = wrapper.propose([request])
    longest = max(len(c.tokens) for c in candidates)
    vocab_row = 4 * parts[0].config.vocab_size
    assert wrapper.peak_cache_bytes == (
        (len(prefix) + longest - 1) * per_token + len(wrapper._seen) * vocab_row
    )
    wrapper.reset()
    assert wrapper.peak_cache_bytes == 0


def test_bench_reports_each_arms_cache_peak(parts):
    backend = TransformersBackend(*parts, model_name="tiny-llama")
    config = SearchConfig(
        max_new_tokens=6, t_min=2, t_max=3, num_candidates=3, rollout_max_tokens=3, seed=3
    )
    runner = Bench(
        backend, config, evaluator_factory=lambda b: SelfEvaluator(b, TINY), embedder=HashEmbedder()
    )
    runs = runner.run([Item("xstest-safe", 1, "How do I bake a cake?", "safe")])
    peak = {run.arm: run.peak_cache_bytes for run in runs}
    assert peak[PAPER_VANILLA] == 0  # no cache at all
    assert 0 < peak[VANILLA] < peak[RAIN]
    assert peak[REFERENCE] > 0
    report = markdown(runs, {"model": "tiny-llama"})
    assert "peak cache MB" in report and "peak cache memory" in report
    ratios = {r["ratio"]: r for r in ratio_rows(totals(runs)[ALL])}
    assert ratios["(a)/(c)"]["peak_cache"] == pytest.approx(peak[RAIN] / peak[VANILLA])
    assert ratios["(a)/(d)"]["peak_cache"] is None  # (d) holds no cache: no ratio


def test_totals_take_the_largest_peak_not_the_sum():
    totals = ArmTotals()
    for peak in (300, 100, None):
        totals.add(ArmRun("rain", "d", 0, "", "", 1, 1.0, 1, 1, peak_cache_bytes=peak))
    assert totals.peak_cache_bytes == 300


def test_shrinking_the_cache_drops_the_oldest_prefixes_now(parts, per_token):
    backend = TransformersBackend(*parts, max_cached_prefixes=3)
    prompts = [backend.chat_prompt_ids([("user", text)]) for text in ("one", "two two", "three")]
    for prompt in prompts:
        backend.generate(prompt, max_new_tokens=1, seed=None)
    assert backend.kv_memory.kept_bytes == sum(len(p) for p in prompts) * per_token
    backend.max_cached_prefixes = 1
    assert backend.kv_memory.kept_bytes == len(prompts[-1]) * per_token
    with pytest.raises(ConfigError, match="max_cached_prefixes"):
        backend.max_cached_prefixes = -1
    with pytest.raises(ConfigError, match="max_cached_prefixes"):
        TransformersBackend(*parts, max_cached_prefixes="4")
    assert backend.max_cached_prefixes == 1


def test_fewer_kept_prefixes_hold_less_and_recompute_more(parts):
    config = SearchConfig(
        max_new_tokens=8, t_min=2, t_max=3, num_candidates=3, rollout_max_tokens=3, seed=3
    )
    seen = {}
    for kept in (0, 4):
        backend = TransformersBackend(*parts, max_cached_prefixes=kept)
        result = rain_generate(
            backend, MESSAGES, config=config, evaluator=SelfEvaluator(backend, TINY)
        )
        seen[kept] = (backend.kv_memory.peak_bytes, result.counters["tokens_processed"], result)
    assert seen[0][0] < seen[4][0]
    assert seen[0][1] > seen[4][1]
    assert seen[0][2].token_ids == seen[4][2].token_ids  # the same answer either way


def test_bench_takes_the_cache_size_from_the_command_line():
    args = build_parser().parse_args(["bench", "--max-cached-prefixes", "2"])
    assert args.max_cached_prefixes == 2
