"""OpenAICompletionsBackend against a tiny in-process HTTP server with canned answers.

The server (``fake_openai_server.FakeServer``: http.server in a thread, on 127.0.0.1) records
every request body and answers through a per-test handler, so each test pins one piece of the
client's protocol logic: prompt-format detection, ``n`` versus concurrent requests, reading
ids and log-probabilities back, the option-probability fallback, retries and error messages,
and the work counters.
"""

from __future__ import annotations

import itertools
import math
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fake_openai_server import FakeServer, Handler
from tiny_models import SPECIALS, byte_bpe_tokenizer
from transformers import PreTrainedTokenizerFast

from rain_guard.backends.base import Backend, ProposalRequest
from rain_guard.backends.openai_compat import (
    OpenAICompletionsBackend,
    ServerRequestError,
    ServerUnavailableError,
)
from rain_guard.errors import BackendError

CORPUS = [
    "Hello there. How are you today? I am fine, thanks.",
    "To bake a cake, mix flour, sugar and eggs; then bake it for an hour.",
    "Yes or No: is it safe? Yes, it is. No, it is not.",
]


def make_tokenizer() -> PreTrainedTokenizerFast:
    return byte_bpe_tokenizer(CORPUS, 420, eos_token="<|im_end|>", pad_token="<|endoftext|>")


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return make_tokenizer()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.close()


def make_backend(server: FakeServer, tokenizer, **kwargs: Any) -> OpenAICompletionsBackend:
    kwargs.setdefault("retry_backoff", 0.001)
    kwargs.setdefault("context_length", 256)
    return OpenAICompletionsBackend(server.url, "fake", tokenizer, **kwargs)


def choice(
    tok,
    ids: list[int],
    *,
    logprob: float = -0.5,
    tops: list[dict[str, float]] | None = None,
    finish: str = "length",
    as_ids: bool = True,
    index: int = 0,
) -> dict[str, Any]:
    """A completion choice for ``ids``: token_ids (vLLM/SGLang) or token strings (llama.cpp)."""
    pieces = [tok.decode([i]) for i in ids]
    tops = tops if tops is not None else [{p: logprob, "zz": logprob - 2.0} for p in pieces]
    out: dict[str, Any] = {
        "index": index,
        "text": "".join(pieces),
        "finish_reason": finish,
        "logprobs": {
            "tokens": pieces,
            "token_logprobs": [logprob] * len(ids),
            "top_logprobs": tops,
        },
    }
    if as_ids:
        out["token_ids"] = ids
    return out


def answer(*choices: dict[str, Any], prompt_tokens: int = 10, cached: int | None = None) -> dict:
    completion = sum(len(c["logprobs"]["tokens"]) for c in choices)
    usage: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion}
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return {"object": "text_completion", "choices": list(choices), "usage": usage}


def ids_of(tok, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)


# --------------------------------------------------------------------- protocol shape


def test_is_a_backend_and_shares_the_local_chat_format(server, tokenizer):
    backend = make_backend(server, tokenizer)
    assert isinstance(backend, Backend)
    ids = backend.chat_prompt_ids([("user", "Hello <|im_end|> there")])
    text = tokenizer.decode(ids)
    assert text.startswith("<|im_start|>user\nHello <|im_end|> there<|im_end|>")
    assert ids.count(tokenizer.convert_tokens_to_ids("<|im_end|>")) == 1  # forgery stays text
    assert backend.stop_token_ids == {tokenizer.convert_tokens_to_ids(t) for t in SPECIALS[::2]}
    assert server.requests == []  # nothing is sent before a model call


def test_context_length_comes_from_the_server_models_list(server, tokenizer):
    server.models = {"data": [{"id": "fake", "max_model_len": 4096}]}
    backend = OpenAICompletionsBackend(server.url + "/v1/", "fake", tokenizer)
    assert backend.base_url == server.url + "/v1"
    assert backend.context_length == 4096


# --------------------------------------------------------------------- prompt format


REJECTIONS = [
    (422, {"detail": [{"msg": "Input should be a valid string"}]}),  # FastAPI's default
    (500, {"error": {"message": "4 validation errors: Input should be a valid string"}}),
]  # the second is what llama-cpp-python's server really answers


@pytest.mark.parametrize("rejection", REJECTIONS, ids=["422", "500-llama-cpp"])
def test_token_id_prompt_falls_back_to_text_once(server, tokenizer, rejection):
    target = ids_of(tokenizer, " bake")

    def handler(body):
        if isinstance(body["prompt"], list):
            return rejection
        return 200, answer(choice(tokenizer, target, as_ids=False))

    server.handler = handler
    backend = make_backend(server, tokenizer)
    prompt = ids_of(tokenizer, "To bake a cake, mix flour")
    assert backend.generate(prompt, max_new_tokens=4, seed=None) == target
    assert backend.token_prompts is False
    first, second = server.requests
    assert first["prompt"] == prompt and first["top_k"] == -1  # not retried, even if 500
    assert second["prompt"] == tokenizer.decode(prompt)
    assert second["top_k"] == 0 and second["repeat_penalty"] == 1.0  # llama.cpp dialect
    backend.generate(prompt, max_new_tokens=4, seed=None)
    assert isinstance(server.requests[-1]["prompt"], str) and len(server.requests) == 3
    assert "logprobs" not in server.requests[-1]  # text mode: the text is re-tokenised


def test_token_id_prompts_are_kept_when_accepted(server, tokenizer):
    server.handler = lambda body: (200, answer(choice(tokenizer, ids_of(tokenizer, " cake"))))
    backend = make_backend(server, tokenizer)
    prompt = ids_of(tokenizer, "To bake a")
    assert backend.generate(prompt, max_new_tokens=2, seed=3) == ids_of(tokenizer, " cake")
    assert backend.token_prompts is True
    body = server.requests[0]
    assert body["prompt"] == prompt and body["seed"] == 3 and body["model"] == "fake"
    assert body["return_token_ids"] is True and body["temperature"] == 1.0
    assert (body["top_p"], body["min_p"]) == (1.0, 0.0)


def test_text_mode_maps_token_strings_back_to_ids(server, tokenizer):
    words = ids_of(tokenizer, " mix flour, sugar")
    server.handler = lambda body: (200, answer(choice(tokenizer, words, as_ids=False)))
    backend = make_backend(server, tokenizer, token_prompts=False)
    assert backend.generate(ids_of(tokenizer, "To bake"), max_new_tokens=8, seed=None) == words


# --------------------------------------------------------------------- candidates


def sampler(tokenizer, sets: list[str], honour_n: bool) -> Handler:
    """Greedy requests get ``sets[0]``; sampled choices take the others in turn."""
    turn = itertools.count()

    def handler(body):
        cut = body["max_tokens"]
        if body["temperature"] == 0:
            return 200, answer(choice(tokenizer, ids_of(tokenizer, sets[0])[:cut]))
        n = body.get("n", 1) if honour_n else 1
        picks = [sets[1 + next(turn) % (len(sets) - 1)] for _ in range(n)]
        return 200, answer(
            *[choice(tokenizer, ids_of(tokenizer, p)[:cut], index=j) for j, p in enumerate(picks)]
        )

    return handler


def test_samples_go_in_one_request_when_n_is_honoured(server, tokenizer):
    server.handler = sampler(
        tokenizer, [" mix flour", " bake it", " then bake", " sugar and"], True
    )
    backend = make_backend(server, tokenizer)
    req = ProposalRequest(tuple(ids_of(tokenizer, "To bake a cake,")), 3, 2, 5, seed=7)
    sets = backend.propose([req])[0]
    assert len(server.requests) == 2  # the greedy request and one n=2 request
    assert backend.supports_n is True
    assert sets[0].tokens == tuple(ids_of(tokenizer, " mix flour")[:2])
    assert len({c.tokens for c in sets}) == len(sets) >= 2
    sampled = next(r for r in server.requests if r["temperature"] > 0)
    assert sampled["n"] == 2 and sampled["top_k"] == 5 and sampled["max_tokens"] == 2


def test_samples_become_concurrent_requests_when_n_is_ignored(server, tokenizer):
    sets = [" mix flour", " bake it", " then bake", " sugar and", " an hour"]
    server.handler = sampler(tokenizer, sets, honour_n=False)
    backend = make_backend(server, tokenizer)
    req = ProposalRequest(tuple(ids_of(tokenizer, "To bake a cake,")), 4, 2, 5, seed=1)
    found = backend.propose([req])[0]
    assert backend.supports_n is False
    assert len(found) == 4 and found[0].tokens == tuple(ids_of(tokenizer, sets[0])[:2])
    seeds = [r["seed"] for r in server.requests if r["temperature"] > 0 and "n" not in r]
    assert len(seeds) == len(set(seeds)) == 2  # the two samples the n request missed
    server.requests.clear()
    backend.propose([req])
    assert all("n" not in r for r in server.requests)  # remembered: no n requests any more
    assert len(server.requests) == 4


def test_same_seed_same_requests(server, tokenizer):
    sets = [" mix flour", " bake it", " then bake", " sugar and"]

    def by_seed(body):  # a server that honours seeds
        pick = sets[0] if body["temperature"] == 0 else sets[1 + body["seed"] % 3]
        return 200, answer(choice(tokenizer, ids_of(tokenizer, pick)))

    server.handler = by_seed
    backend = make_backend(server, tokenizer, supports_n=False)
    req = ProposalRequest(tuple(ids_of(tokenizer, "To bake a cake,")), 3, 2, 5, seed=11)
    first = backend.propose([req])[0]
    seeds = sorted(r.get("seed", -1) for r in server.requests)
    server.requests.clear()
    assert backend.propose([req])[0] == first
    assert sorted(r.get("seed", -1) for r in server.requests) == seeds


def test_set_logprob_is_renormalised_over_the_top_k_pool(server, tokenizer):
    ids = ids_of(tokenizer, " mix flour")
    pieces = [tokenizer.decode([i]) for i in ids]
    tops = [{pieces[0]: math.log(0.4), "a": math.log(0.3), "b": math.log(0.1)}] * 2
    server.handler = lambda body: (
        200,
        answer(choice(tokenizer, ids, logprob=math.log(0.4), tops=tops)),
    )
    backend = make_backend(server, tokenizer, supports_n=False)
    req = ProposalRequest(tuple(ids_of(tokenizer, "To bake")), 1, 2, top_k=2, seed=0)
    (cand,) = backend.propose([req])[0]
    assert cand.tokens == tuple(ids)
    assert cand.logprob == pytest.approx(2 * math.log(0.4 / 0.7))  # pool: the top 2 only


def test_one_token_sets_are_the_top_alternatives(server, tokenizer):
    yes, no, safe = (ids_of(tokenizer, w)[0] for w in (" Yes", " No", " safe"))
    top = {" Yes": math.log(0.5), " No": math.log(0.3), " safe": math.log(0.1)}
    server.handler = lambda body: (200, answer(choice(tokenizer, [yes], tops=[top])))
    backend = make_backend(server, tokenizer)
    req = ProposalRequest(tuple(ids_of(tokenizer, "Is it")), 2, 1, 3, seed=0, exclude={(yes,)})
    cands = backend.propose([req])[0]
    assert [c.tokens for c in cands] == [(no,), (safe,)]
    assert cands[0].logprob == pytest.approx(math.log(0.3 / 0.9))
    assert server.requests[0]["max_tokens"] == 1 and server.requests[0]["temperature"] == 0


def test_a_set_cut_short_by_eos_ends_with_the_stop_id(server, tokenizer):
    """llama.cpp stops at EOS without reporting it: the set still ends with a stop id."""
    words = ids_of(tokenizer, " thanks.")
    server.handler = lambda body: (
        200,
        answer(choice(tokenizer, words, finish="stop", as_ids=False)),
    )
    backend = make_backend(server, tokenizer, supports_n=False, token_prompts=False)
    req = ProposalRequest(tuple(ids_of(tokenizer, "I am fine,")), 1, 4, 5, seed=0)
    (cand,) = backend.propose([req])[0]
    assert cand.tokens == (*words, tokenizer.eos_token_id)


# --------------------------------------------------------------------- roll-outs


def test_rollout_sends_stop_strings_and_cuts_at_the_first_boundary(server, tokenizer):
    words = ids_of(tokenizer, " mix flour, sugar and eggs")
    server.handler = lambda body: (200, answer(choice(tokenizer, words)))
    backend = make_backend(server, tokenizer)
    prefixes = [ids_of(tokenizer, "To bake a cake"), ids_of(tokenizer, "I am fine.")]
    out = backend.rollout(prefixes, boundaries=",.", max_tokens=16, seed=5)
    assert tokenizer.decode(out[0]) == " mix flour,"
    assert out[1] == []  # already at a boundary: no request
    (body,) = server.requests
    assert body["stop"] == [",", "."] and body["max_tokens"] == 16 and body["top_k"] == -1


def test_text_mode_rollout_samples_max_tokens_and_cuts_locally(server, tokenizer):
    """llama.cpp: no stop strings (it names no matched stop), no costly logprobs."""
    text = " mix flour, sugar and eggs"
    reply = {"index": 0, "text": text, "finish_reason": "length", "logprobs": None}
    server.handler = lambda body: (200, {"choices": [reply], "usage": {}})
    backend = make_backend(server, tokenizer, token_prompts=False)
    (ids,) = backend.rollout([ids_of(tokenizer, "To bake")], boundaries=",", max_tokens=8, seed=0)
    assert tokenizer.decode(ids) == " mix flour,"
    (body,) = server.requests
    assert "stop" not in body and "logprobs" not in body and body["max_tokens"] == 8


# --------------------------------------------------------------------- option scoring


def test_option_probs_read_the_top_alternatives(server, tokenizer):
    yes, no = ids_of(tokenizer, " Yes")[0], ids_of(tokenizer, " No")[0]
    top = {" Yes": math.log(0.6), " No": math.log(0.25), " safe": math.log(0.1)}
    server.handler = lambda body: (200, answer(choice(tokenizer, [yes], tops=[top])))
    backend = make_backend(server, tokenizer, top_logprobs=7)
    probs = backend.option_probs([ids_of(tokenizer, "Is it safe?")] * 3, [yes, no])
    assert probs == [pytest.approx([0.6, 0.25])] * 3
    assert len(server.requests) == 3
    assert all(r["logprobs"] == 7 and r["max_tokens"] == 1 for r in server.requests)


def test_option_probs_accept_vllm_token_id_keys(server, tokenizer):
    yes, no = ids_of(tokenizer, " Yes")[0], ids_of(tokenizer, " No")[0]
    top = {f"token_id:{yes}": math.log(0.2), f"token_id:{no}": math.log(0.7)}
    server.handler = lambda body: (200, answer(choice(tokenizer, [no], tops=[top])))
    backend = make_backend(server, tokenizer)
    assert backend.option_probs([ids_of(tokenizer, "Is it")], [yes, no]) == [
        pytest.approx([0.2, 0.7])
    ]


def test_label_outside_the_top_k_gets_the_documented_fallback(server, tokenizer):
    yes, no = ids_of(tokenizer, " Yes")[0], ids_of(tokenizer, " No")[0]
    top = {" Yes": math.log(0.5), " safe": math.log(0.3), " cake": math.log(0.15)}
    server.handler = lambda body: (200, answer(choice(tokenizer, [yes], tops=[top])))
    backend = make_backend(server, tokenizer)
    (probs,) = backend.option_probs([ids_of(tokenizer, "Is it")], [yes, no])
    assert probs[0] == pytest.approx(0.5)
    assert probs[1] == pytest.approx(min(1 - 0.95, 0.15))  # leftover mass, capped
    top2 = {" Yes": math.log(0.5), " safe": math.log(0.01)}  # lots left: capped by 0.01
    server.handler = lambda body: (200, answer(choice(tokenizer, [yes], tops=[top2])))
    (probs,) = backend.option_probs([ids_of(tokenizer, "Is it not")], [yes, no])
    assert probs[1] == pytest.approx(0.01)


def test_eos_first_is_retried_with_stop_ids_banned(server, tokenizer):
    yes, no = ids_of(tokenizer, " Yes")[0], ids_of(tokenizer, " No")[0]

    def handler(body):
        if "logit_bias" not in body:  # llama.cpp: EOS first -> nothing comes back
            empty = {"tokens": [], "token_logprobs": [], "top_logprobs": []}
            return 200, answer({"index": 0, "text": "", "finish_reason": "stop", "logprobs": empty})
        # llama.cpp reports unbiased logprobs; EOS prints as "" and is the largest
        top = {"": math.log(0.4), " Yes": math.log(0.3), " No": math.log(0.2)}
        return 200, answer(choice(tokenizer, [yes], tops=[top], as_ids=False))

    server.handler = handler
    backend = make_backend(server, tokenizer, token_prompts=False)
    (probs,) = backend.option_probs([ids_of(tokenizer, "Is it")], [yes, no])
    assert probs == pytest.approx([0.3, 0.2])
    assert server.requests[1]["logit_bias"] == {"0": -100.0, "2": -100.0}  # all stop ids
    req = ProposalRequest(tuple(ids_of(tokenizer, "Is it")), 3, 1, 5, seed=0)
    cands = backend.propose([req])[0]
    assert [c.tokens for c in cands] == [(tokenizer.eos_token_id,), (yes,), (no,)]
    assert cands[0].logprob == pytest.approx(math.log(0.4 / 0.9))


def test_missing_logprobs_is_a_clear_error(server, tokenizer):
    def handler(body):
        c = choice(tokenizer, ids_of(tokenizer, " Yes"))
        c["logprobs"] = None
        return 200, {"choices": [c], "usage": {}}

    server.handler = handler
    backend = make_backend(server, tokenizer)
    with pytest.raises(ServerRequestError, match="returned no logprobs") as info:
        backend.option_probs([ids_of(tokenizer, "Is it")], [1, 2])
    assert server.url in str(info.value)


# --------------------------------------------------------------------- failures


def test_transient_errors_are_retried_with_backoff(server, tokenizer):
    calls = []

    def handler(body):
        calls.append(time.monotonic())
        if len(calls) < 3:
            return 503, {"error": {"message": "overloaded"}}
        return 200, answer(choice(tokenizer, ids_of(tokenizer, " cake")))

    server.handler = handler
    backend = make_backend(server, tokenizer, retry_backoff=0.02, max_retries=3)
    assert backend.generate([5, 6], max_new_tokens=2, seed=None) == ids_of(tokenizer, " cake")
    assert len(calls) == 3
    assert calls[2] - calls[1] >= 0.04 - 0.005  # second delay doubled
    assert backend.counters.forward_calls == 1  # only the answered request counts


def test_persistent_5xx_gives_up_naming_the_url(server, tokenizer):
    server.handler = lambda body: (500, {"error": {"message": "boom"}})
    backend = make_backend(server, tokenizer, max_retries=2)
    with pytest.raises(ServerUnavailableError, match="boom") as info:
        backend.generate([5, 6], max_new_tokens=2, seed=None)
    assert server.url in str(info.value) and len(server.requests) == 3


def test_client_errors_are_not_retried(server, tokenizer):
    server.handler = lambda body: (400, {"error": {"message": "max logprobs is 20"}})
    backend = make_backend(server, tokenizer, token_prompts=True)
    with pytest.raises(ServerRequestError, match="max logprobs is 20") as info:
        backend.option_probs([[5, 6]], [1, 2])
    assert info.value.status == 400 and len(server.requests) == 1


def test_unreachable_server_fails_fast_naming_the_url(tokenizer):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    backend = OpenAICompletionsBackend(url, None, tokenizer, retry_backoff=0.001)
    start = time.monotonic()
    with pytest.raises(BackendError, match=f"127.0.0.1:{port}"):
        _ = backend.context_length
    with pytest.raises(ServerUnavailableError, match="is it running"):
        backend.generate([5, 6], max_new_tokens=2, seed=None)
    assert time.monotonic() - start < 5


# --------------------------------------------------------------------- counters


def test_counters_come_from_usage(server, tokenizer):
    server.handler = lambda body: (
        200,
        answer(choice(tokenizer, ids_of(tokenizer, " cake")), prompt_tokens=12, cached=8),
    )
    backend = make_backend(server, tokenizer)
    backend.generate([5, 6, 7], max_new_tokens=2, seed=None)
    backend.option_probs([[5, 6], [5, 7]], [1, 2])
    snap = backend.counters.snapshot()
    completion = len(ids_of(tokenizer, " cake"))
    assert snap["forward_calls"] == 3
    assert snap["tokens_processed"] == 3 * (12 + completion)
    assert snap["cached_tokens"] == 24


def test_text_prompts_that_re_tokenise_differently_are_counted(server, tokenizer):
    server.handler = lambda body: (
        200,
        answer(choice(tokenizer, [7], as_ids=False), prompt_tokens=3),
    )
    backend = make_backend(server, tokenizer, token_prompts=False)
    backend.generate([5, 6, 7], max_new_tokens=1, seed=None)
    backend.generate([5, 6, 7, 8], max_new_tokens=1, seed=None)
    assert backend.counters.extra["prompt_retokenized"] == 1
