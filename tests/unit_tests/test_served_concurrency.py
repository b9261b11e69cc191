"""The served backend sends the rows of a call concurrently, bounded by ``max_concurrency``.

A batching engine (vLLM, SGLang) can only batch requests it holds at once, so the k x B
rows of a search step (proposals, roll-outs, option prompts) must overlap at the server,
never more than ``max_concurrency`` of them, and come back in row order whatever order the
server answers in; the search's answer must not depend on the setting. The fake server
holds each request until the others it expects have arrived (``FakeServer.wait_until``),
so overlap is observed without timing assumptions.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fake_openai_server import FakeServer
from tiny_models import byte_bpe_tokenizer
from transformers import PreTrainedTokenizerFast

from rain_guard import SearchConfig, rain_generate
from rain_guard.backends.base import ProposalRequest, RolloutSpec
from rain_guard.backends.batching import SharedBatch
from rain_guard.backends.openai_compat import OpenAICompletionsBackend, ServerRequestError
from rain_guard.errors import ConfigError
from rain_guard.judging.evaluator import FunctionEvaluator

CORPUS = [
    "To bake a cake, mix flour, sugar and eggs; then bake it for an hour.",
    "Yes or No: is it safe? Yes, it is. No, it is not.",
]
WORDS = [" mix", " flour", " sugar", " eggs", " bake", " it", " then", " cake", ".", ","]
HOLD = 10.0  # seconds a held request waits for the others before it is answered anyway


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return byte_bpe_tokenizer(CORPUS, 400, eos_token="<|im_end|>", pad_token="<|endoftext|>")


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.close()


def make_backend(server: FakeServer, tokenizer, **kwargs: Any) -> OpenAICompletionsBackend:
    kwargs.setdefault("context_length", 512)
    kwargs.setdefault("token_prompts", True)
    kwargs.setdefault("supports_n", False)
    return OpenAICompletionsBackend(server.url, "fake", tokenizer, retry_backoff=0.001, **kwargs)


def word_ids(tok) -> list[int]:
    return [tok.encode(w, add_special_tokens=False)[0] for w in WORDS]


def _hash(*parts: Any) -> int:
    return int(hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12], 16)


def model_answer(tok, body: dict[str, Any]) -> dict[str, Any]:
    """A deterministic "model": tokens and log-probabilities are a hash of prompt and seed."""
    vocab = word_ids(tok)
    greedy = body["temperature"] == 0
    choices = []
    for j in range(body.get("n", 1)):
        key = (body["prompt"], None if greedy else body.get("seed"), j, body.get("top_k"))
        ids = [vocab[_hash(key, t) % len(vocab)] for t in range(body["max_tokens"])]
        pieces = [tok.decode([i]) for i in ids]
        lps = [-0.1 - (_hash(key, t, "lp") % 5) / 2 for t in range(len(ids))]
        tops = [
            {p: lp, tok.decode([vocab[(vocab.index(i) + 1) % len(vocab)]]): lp - 1.0}
            for p, lp, i in zip(pieces, lps, ids, strict=True)
        ]
        logprobs = {"tokens": pieces, "token_logprobs": lps, "top_logprobs": tops}
        choices.append(
            {"index": j, "text": "".join(pieces), "token_ids": ids, "logprobs": logprobs}
        )
    usage = {"prompt_tokens": len(body["prompt"]), "completion_tokens": body["max_tokens"]}
    return {"choices": choices, "usage": usage}


def yes_no(tok, p_yes: float) -> dict[str, Any]:
    """An option-scoring answer: " Yes" with ``p_yes``, " No" with the rest."""
    tops = [{" Yes": math.log(p_yes), " No": math.log(1 - p_yes)}]
    logprobs = {"tokens": [" Yes"], "token_logprobs": [math.log(p_yes)], "top_logprobs": tops}
    choice = {
        "index": 0,
        "text": " Yes",
        "token_ids": [tok.encode(" Yes")[0]],
        "logprobs": logprobs,
    }
    return {"choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


def prompts(tok, n: int) -> list[list[int]]:
    """``n`` distinct prompts; prompt i ends with i + 1 copies of " cake"."""
    base = tok.encode("To bake a", add_special_tokens=False)
    return [base + tok.encode(" cake" * (i + 1), add_special_tokens=False) for i in range(n)]


def row_of(tok, prompt: list[int]) -> int:
    return prompt.count(tok.encode(" cake", add_special_tokens=False)[0]) - 1


# --------------------------------------------------------------------- overlap and bound


@pytest.mark.parametrize("limit", [1, 4])
def test_option_rows_overlap_up_to_max_concurrency(server, tokenizer, limit):
    rows = prompts(tokenizer, 8)

    def handler(body):  # hold each request until `limit` are in flight (or all have come)
        server.wait_until(lambda s: s.max_in_flight >= limit or len(s.requests) == len(rows), HOLD)
        return 200, yes_no(tokenizer, 0.5)

    server.handler = handler
    backend = make_backend(server, tokenizer, max_concurrency=limit)
    yes, no = (tokenizer.encode(w, add_special_tokens=False)[0] for w in (" Yes", " No"))
    assert len(backend.option_probs(rows, [yes, no])) == len(rows)
    assert server.max_in_flight == limit  # 4 at once, or strictly one after another


def test_the_proposals_of_several_leaves_overlap(server, tokenizer):
    """vLLM-like (``n`` honoured): each proposal is a greedy and an ``n`` request, and the
    four requests' eight rows are all in flight together."""

    def handler(body):
        server.wait_until(lambda s: s.max_in_flight >= 8, HOLD)
        return 200, model_answer(tokenizer, body)

    server.handler = handler
    backend = make_backend(server, tokenizer, max_concurrency=8, supports_n=True)
    requests = [
        ProposalRequest(tuple(p), 3, 2, 5, seed=i) for i, p in enumerate(prompts(tokenizer, 4))
    ]
    sets = backend.propose(requests)
    assert [len(s) for s in sets] == [3, 3, 3, 3]
    assert server.max_in_flight == 8 and len(server.requests) == 8


def test_the_rows_of_searches_in_a_shared_batch_overlap(server, tokenizer):
    """B = 2 searches with k = 2 leaves each: their proposals and roll-outs (merged by the
    SharedBatch) reach the server together, and each search gets what it gets alone."""

    def handler(body):
        server.wait_until(lambda s: s.max_in_flight >= 8, HOLD)
        return 200, model_answer(tokenizer, body)

    server.handler = handler
    batch = SharedBatch(make_backend(server, tokenizer, max_concurrency=8, supports_n=True))
    rows = prompts(tokenizer, 4)
    requests = [ProposalRequest(tuple(p), 3, 2, 5, seed=i) for i, p in enumerate(rows)]
    specs = [RolloutSpec(".", 4, seed=i) for i in range(len(rows))]
    views = [batch.view(), batch.view()]
    got: dict[int, Any] = {}

    def search(b: int) -> None:
        mine = slice(2 * b, 2 * b + 2)
        got[b] = (
            views[b].propose_with_rollout_many(requests[mine], specs[mine]),
            views[b].rollout_many(rows[mine], specs[mine]),
        )
        views[b].close()

    threads = [threading.Thread(target=search, args=(b,)) for b in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.max_in_flight == 8  # 4 leaves x (greedy, n, roll-out) rows, 8 at once
    assert batch.merged_calls == 2  # one merged call per kind
    alone = make_backend(server, tokenizer, max_concurrency=1, supports_n=True)
    for b in range(2):
        mine = slice(2 * b, 2 * b + 2)
        assert got[b] == (
            alone.propose_with_rollout_many(requests[mine], specs[mine]),
            alone.rollout_many(rows[mine], specs[mine]),
        )


def test_in_flight_never_exceeds_the_limit_across_threads_and_nested_rows(server, tokenizer):
    """Two searches' calls at once, each with nested rows (a proposal's samples), on one
    backend with max_concurrency 3: the server never holds more than 3."""

    def handler(body):
        server.wait_until(lambda s: s.max_in_flight >= 3, 0.5)
        return 200, model_answer(tokenizer, body)

    server.handler = handler
    backend = make_backend(server, tokenizer, max_concurrency=3)
    rows = prompts(tokenizer, 4)
    requests = [ProposalRequest(tuple(p), 3, 2, 5, seed=i) for i, p in enumerate(rows)]
    specs = [RolloutSpec(".", 4, seed=i) for i in range(len(rows))]
    done: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: done.append(backend.propose_with_rollout_many(requests, specs))
        ),
        threading.Thread(target=lambda: done.append(backend.rollout_many(rows, specs))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 2
    assert server.max_in_flight == 3


def test_max_concurrency_below_one_is_a_config_error(server, tokenizer):
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ConfigError, match="max_concurrency"):
            make_backend(server, tokenizer, max_concurrency=bad)


# --------------------------------------------------------------------- order and errors


def test_results_keep_row_order_when_the_server_answers_in_reverse(server, tokenizer):
    rows = prompts(tokenizer, 6)

    def handler(body):  # all rows arrive, then row 5 is answered first and row 0 last
        i = row_of(tokenizer, body["prompt"])
        server.wait_until(lambda s: len(s.requests) == len(rows) and s.answered == 5 - i, HOLD)
        if body["max_tokens"] == 1:
            return 200, yes_no(tokenizer, (i + 1) / 10)
        return 200, model_answer(tokenizer, body)

    server.handler = handler
    backend = make_backend(server, tokenizer, max_concurrency=8)
    yes, no = (tokenizer.encode(w, add_special_tokens=False)[0] for w in (" Yes", " No"))
    probs = backend.option_probs(rows, [yes, no])
    assert [round(p[0], 6) for p in probs] == [(i + 1) / 10 for i in range(6)]
    order = [row_of(tokenizer, r["prompt"]) for r in server.requests]
    server.requests.clear()
    server.answered = 0
    specs = [RolloutSpec("!", 3, seed=7) for _ in rows]
    rolled = backend.rollout_many(rows, specs)
    alone = make_backend(server, tokenizer, max_concurrency=1)
    server.handler = lambda body: (200, model_answer(tokenizer, body))
    assert rolled == [alone.rollout([p], boundaries="!", max_tokens=3, seed=7)[0] for p in rows]
    assert sorted(order) == list(range(6))


def test_a_failed_row_raises_the_typed_error_naming_the_url(server, tokenizer):
    rows = prompts(tokenizer, 5)

    def handler(body):
        if row_of(tokenizer, body["prompt"]) == 3:
            return 400, {"error": {"message": "prompt too long"}}
        return 200, yes_no(tokenizer, 0.5)

    server.handler = handler
    backend = make_backend(server, tokenizer, max_concurrency=4)
    with pytest.raises(ServerRequestError, match="127.0.0.1.*HTTP 400.*prompt too long") as err:
        backend.option_probs(rows, [1, 2])
    assert err.value.status == 400


def test_a_failed_search_in_a_shared_batch_keeps_the_others_answers(server, tokenizer):
    """SharedBatch retries a failed merged call call by call: only the bad row's search
    fails, the other gets its answer (the same as alone)."""
    rows = prompts(tokenizer, 2)

    def handler(body):
        if row_of(tokenizer, body["prompt"]) == 1:
            return 400, {"error": {"message": "bad row"}}
        return 200, yes_no(tokenizer, 0.3)

    server.handler = handler
    batch = SharedBatch(make_backend(server, tokenizer, max_concurrency=4))
    views = [batch.view(), batch.view()]
    results: dict[int, Any] = {}
    yes, no = (tokenizer.encode(w, add_special_tokens=False)[0] for w in (" Yes", " No"))

    def ask(i: int) -> None:
        try:
            results[i] = views[i].option_probs([rows[i]], [yes, no])
        except ServerRequestError as exc:
            results[i] = exc
        views[i].close()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert isinstance(results[1], ServerRequestError)
    assert results[0] == [[pytest.approx(0.3), pytest.approx(0.7)]]


# --------------------------------------------------------------------- detection


def _first_calls(server, tokenizer, limit: int):
    """A fresh backend (dialect unknown) on a llama.cpp-like server (text prompts, one choice
    per request): roll-outs, then proposals whose first is a one-token set."""
    server.requests.clear()

    def handler(body):
        if isinstance(body["prompt"], list):
            return 422, {"detail": [{"msg": "Input should be a valid string"}]}
        body = {**body, "n": 1, "prompt": tokenizer.encode(body["prompt"])}
        server.wait_until(lambda s: s.max_in_flight >= 2, 0.2)
        return 200, model_answer(tokenizer, body)

    server.handler = handler
    backend = make_backend(
        server, tokenizer, max_concurrency=limit, token_prompts=None, supports_n=None
    )
    rows = prompts(tokenizer, 3)
    rolled = backend.rollout_many(rows, [RolloutSpec(".", 4, seed=i) for i in range(3)])
    lengths = [1, 2, 3]
    requests = [
        ProposalRequest(tuple(p), 4, n, 5, seed=1) for p, n in zip(rows, lengths, strict=True)
    ]
    sets = backend.propose(requests)
    sent = sorted(json.dumps(r, sort_keys=True) for r in server.requests)
    return rolled, sets, sent, (backend.token_prompts, backend.supports_n)


def test_dialect_detection_does_not_depend_on_max_concurrency(server, tokenizer):
    """The rows that detect the prompt format and ``n`` support go first and alone; the
    others send what they would send after them, so the requests and answers match."""
    alone = _first_calls(server, tokenizer, 1)
    together = _first_calls(server, tokenizer, 8)
    assert together == alone
    assert alone[3] == (False, False)


# --------------------------------------------------------------------- the search


def _search(server: FakeServer, tokenizer, limit: int, supports_n: bool):
    server.requests.clear()
    server.max_in_flight = 0

    def handler(body):
        if limit > 1:  # hold a little so that rows sent together are seen together
            server.wait_until(lambda s: s.max_in_flight >= 4, 0.2)
        return 200, model_answer(tokenizer, body)

    server.handler = handler
    backend = make_backend(server, tokenizer, max_concurrency=limit, supports_n=supports_n)
    config = SearchConfig(
        max_new_tokens=8, t_min=2, t_max=8, num_candidates=3, use_similarity=False,
        parallel_leaves=4, seed=5,
    )  # fmt: skip
    evaluator = FunctionEvaluator(lambda q, a: (len(a) % 7) / 3.5 - 1.0)
    result = rain_generate(
        backend, [("user", "How do I bake a cake?")], config=config, evaluator=evaluator
    )
    sent = sorted(json.dumps(r, sort_keys=True) for r in server.requests)
    return result, sent, server.max_in_flight


@pytest.mark.parametrize("supports_n", [False, True], ids=["llama-cpp-like", "vllm-like"])
def test_a_parallel_leaves_search_answers_the_same_at_any_max_concurrency(
    server, tokenizer, supports_n
):
    alone, sent_alone, most_alone = _search(server, tokenizer, 1, supports_n)
    together, sent_together, most_together = _search(server, tokenizer, 8, supports_n)
    assert together.text == alone.text and together.iterations == alone.iterations
    assert sent_together == sent_alone  # the very same requests, only sent at once
    assert most_alone == 1
    assert most_together >= 4  # more than one leaf's rows at once (a leaf sends 2 or 3)
