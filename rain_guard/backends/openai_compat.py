"""OpenAICompletionsBackend: RAIN over a served engine's OpenAI-compatible ``/v1/completions``.

The search needs next-token log-probabilities, seeded sampling and token-exact prefixes, which
chat endpoints do not give; the legacy completions endpoint of vLLM, SGLang and llama.cpp's
servers does. Tokenisation stays local (the model's Hugging Face tokenizer), so chat prompts,
option labels and stop ids are exactly those of ``TransformersBackend``.

How each protocol call maps onto requests:

* ``propose``: the greedy set is one request at temperature 0; the samples are one request
  with ``n`` where the server honours it (vLLM, SGLang), else concurrent single requests
  (llama.cpp ignores ``n > 1``), each with its own ``seed``, ``top_k`` and ``temperature``.
  ``max_tokens`` is the set length and ``logprobs`` = min(top_k, top_logprobs), so the
  per-token probabilities can be renormalised over the top-k pool as the local backend does.
  One-token sets are the top alternatives of a single request (no sampling).
* ``rollout``: one sampled request per prefix, cut locally at the first boundary; with
  token-id prompts the boundary characters also go as ``stop`` strings (the server stops
  early), with text prompts (llama.cpp) the roll-out samples ``max_tokens`` and its text is
  re-tokenised (only the text of a roll-out is used: it is what gets evaluated).
* ``option_probs``: one request per prompt with ``max_tokens=1`` and
  ``logprobs=top_logprobs``; each option's probability is read from the returned top
  alternatives (see ``option_probs`` for labels outside them).
* ``generate``: one request, greedy (temperature 0) or seeded full-distribution sampling
  (with text prompts the answer text is re-tokenised, as for roll-outs).

Prompts are sent as token-id lists where the server accepts them (vLLM, SGLang): the server
sees exactly the search's prefix and its prefix cache reuses it across rewinds. llama.cpp's
OpenAI server accepts only strings, so there the prefix is decoded to text (special tokens
kept) and the server re-tokenises it. Caveat: BPE may merge tokens across the boundary of
two search steps differently from the ids the search holds, so the server can condition on
a different (equally valid) tokenisation of the same text; ``counters.extra
["prompt_retokenized"]`` counts requests whose server-side prompt length differed. The mode
is detected once (``token_prompts=None``): a token-id prompt is tried, and a validation error
(HTTP 400/422, or llama-cpp-python's HTTP 500 "validation error") switches to text for good.

Returned tokens are mapped back to ids from, in order: ``token_ids`` in the choice (vLLM and
SGLang with ``return_token_ids``), ``"token_id:N"`` strings (vLLM's
``return_tokens_as_token_ids``), the ``logprobs.tokens`` strings looked up through the local
tokenizer when they spell the text, and last the completion text re-tokenised locally (which
can split differently from what the server sampled; only then are ids approximate).

Served engines differ in sampling defaults (llama.cpp: top_k 40, top_p 0.95, min_p 0.05,
repeat penalty 1.1), so every request states ``top_p=1``, ``min_p=0``, no penalties and an
explicit ``top_k`` (full vocabulary: -1, or 0 in llama.cpp's text mode, whose schema rejects
-1). ``extra_body`` adds engine-specific fields to every request.

Not registered in ``load_backend``: construct it directly (``from_gguf`` /
``from_pretrained``) and pass it as ``ChatRAIN(backend=...)`` or to ``rain_generate``. See
docs/served_engines.md.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rain_guard.backends.base import Candidate, ProposalRequest, WorkCounters
from rain_guard.backends.chat_format import ChatFormat
from rain_guard.backends.transformers.backend import (
    _check_rollout_temperature,
    _check_temperature,
)
from rain_guard.errors import BackendError

logger = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TOKEN_ID_PREFIX = "token_id:"


class ServerUnavailableError(BackendError):
    """The server could not be reached (or kept failing) after all retries."""


class ServerRequestError(BackendError):
    """The server rejected a request (HTTP 4xx) or answered something unusable.

    Attributes:
        status: The HTTP status, or None when the answer itself was malformed.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Choice:
    """One completion choice, normalised: ids plus per-position log-probabilities.

    ``logprobs[i]`` and ``tops[i]`` follow the server's tokens, which are ``ids`` except when
    the ids had to be re-tokenised from text; ``tops[i]`` maps the server's token strings (or
    ``token_id:N``) to log-probabilities.
    """

    ids: list[int]
    logprobs: list[float | None] = field(default_factory=list)
    tops: list[dict[str, float]] = field(default_factory=list)
    stopped_at_eos: bool = False


class OpenAICompletionsBackend:
    """The Backend protocol for a model served behind an OpenAI-compatible /v1/completions.

    Args:
        base_url: Server root, e.g. ``http://127.0.0.1:8000`` (``/v1`` is added if missing).
        model: Model name sent in requests (vLLM wants the served name); None omits the field,
            so the server uses its only model.
        tokenizer: The served model's Hugging Face tokenizer (local tokenisation).
        api_key: Sent as ``Authorization: Bearer``; None sends no header.
        token_prompts: Send prompts as token-id lists (True), as text (False) or detect once
            (None).
        supports_n: Server returns ``n`` choices per request (True), not (False) or detect
            from the first answer (None).
        top_logprobs: Alternatives asked per position for option scoring and one-token sets
            (vLLM's default cap is 20: raise ``--max-logprobs`` to ask more).
        timeout: Seconds per HTTP request.
        max_retries: Retries after a connection error or HTTP 408/429/5xx (a request that
            times out once connected is not sent again: the server is busy, not gone).
        max_concurrency: Requests in flight at once (a thread pool).
        context_length: Longest sequence the server accepts; None asks ``/v1/models``
            (``max_model_len``: vLLM, SGLang) and falls back to the tokenizer's limit. Set it
            for llama.cpp (its ``--n_ctx``).
        stop_token_ids: Ids that end an answer, added to the tokenizer's EOS and end-of-turn
            tokens (e.g. the generation config's ``eos_token_id``).
        model_name: Name in reports and checkpoints (default: ``model`` or the tokenizer's).
        retry_backoff: First retry delay in seconds; doubles per retry.
        extra_body: Fields added to every request (e.g. ``{"repetition_penalty": 1.0}``).
        rollout_stop_strings: Send the boundary characters as ``stop`` strings in roll-outs,
            so the server stops at the first token that contains one (a token such as ``'."'``
            also ends it); False samples ``max_tokens`` and cuts locally (exactly the local
            backend's rule, at the cost of extra tokens). None (default): on with token-id
            prompts, off with text prompts (llama.cpp names no matched stop string, and its
            log-probabilities, which would name the tokens, cost more than the extra tokens).

    Thread-safe: requests run concurrently; counters and detection are guarded by locks.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None,
        tokenizer: Any,
        *,
        api_key: str | None = None,
        token_prompts: bool | None = None,
        supports_n: bool | None = None,
        top_logprobs: int = 20,
        timeout: float = 60.0,
        max_retries: int = 3,
        max_concurrency: int = 8,
        context_length: int | None = None,
        stop_token_ids: Iterable[int] = (),
        model_name: str | None = None,
        retry_backoff: float = 0.25,
        extra_body: dict[str, Any] | None = None,
        rollout_stop_strings: bool | None = None,
    ) -> None:
        if top_logprobs < 1 or max_concurrency < 1 or max_retries < 0:
            raise ValueError("top_logprobs and max_concurrency must be >= 1, max_retries >= 0")
        self.base_url = _v1_url(base_url)
        self.model = model
        self.tokenizer = tokenizer
        self.model_name = model_name or model or _tokenizer_name(tokenizer)
        self.counters = WorkCounters()
        self.top_logprobs = int(top_logprobs)
        self.max_retries = int(max_retries)
        self.retry_backoff = float(retry_backoff)
        self.max_concurrency = int(max_concurrency)
        self.extra_body = dict(extra_body or {})
        self.rollout_stop_strings = rollout_stop_strings
        self._token_prompts = token_prompts
        self._supports_n = supports_n
        self._context_length = context_length
        self.chat_format = ChatFormat(tokenizer, self.model_name, stop_token_ids)
        self._stop_ids = self.chat_format.stop_ids
        self._default_stop = _default_stop(tokenizer, self._stop_ids)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_concurrency + 2),
            headers=self._headers,
        )
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()  # counters, pool creation, piece cache
        self._detect_lock = threading.Lock()
        self._piece_ids: dict[str, tuple[int, ...]] = {}

    # ----------------------------------------------------------------- constructors

    @classmethod
    def from_pretrained(
        cls, base_url: str, tokenizer_name_or_path: str | Path, **kwargs: Any
    ) -> OpenAICompletionsBackend:
        """A backend whose tokenizer (and EOS ids) come from a folder or a hub id.

        Args:
            base_url: Server root.
            tokenizer_name_or_path: Local model folder or hub id of the served model.
            **kwargs: Constructor arguments (``model``, ``context_length``, ...).
        """
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_name_or_path))
        extra = set(kwargs.pop("stop_token_ids", ())) | _config_eos_ids(tokenizer_name_or_path)
        return cls(
            base_url,
            kwargs.pop("model", None),
            tokenizer,
            stop_token_ids=extra,
            **kwargs,
        )

    @classmethod
    def from_gguf(
        cls, base_url: str, gguf_path: str | Path | None = None, **kwargs: Any
    ) -> OpenAICompletionsBackend:
        """A backend for a server running a GGUF file (llama.cpp), tokenised locally.

        Args:
            base_url: Server root.
            gguf_path: The served GGUF file; None means the embedded SmolLM2-135M-Instruct,
                whose tokenizer comes from rain_guard's converted cache (built once if
                missing, ~20 s).
            **kwargs: Constructor arguments; set ``context_length`` to the server's n_ctx.
                ``max_concurrency`` defaults to 1 here: llama-cpp-python's server answers one
                request at a time, so parallel requests only queue (and time out) there, and
                requests in sequence let it reuse the previous prompt's evaluated prefix.
        """
        kwargs.setdefault("max_concurrency", 1)
        from rain_guard.models import resolve as models

        path = None if gguf_path is None else Path(gguf_path).expanduser().resolve()
        if path is None or _is_embedded(path):
            kwargs.setdefault("model_name", models.EMBEDDED_NAME)
            return cls.from_pretrained(base_url, models.embedded_folder(), **kwargs)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        kwargs.setdefault("model_name", path.stem)
        return cls(base_url, kwargs.pop("model", None), tokenizer, **kwargs)

    def close(self) -> None:
        """Close the HTTP connections and the thread pool."""
        self._client.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def __enter__(self) -> OpenAICompletionsBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- properties

    @property
    def context_length(self) -> int:
        """The explicit limit, else the server's ``max_model_len``, else the tokenizer's.

        Raises:
            ServerUnavailableError: the server cannot be reached (asked once, when not set).
        """
        if self._context_length is None:
            server = self._server_context_length()
            self._context_length = server or self.chat_format.context_length()
        return self._context_length

    @property
    def stop_token_ids(self) -> frozenset[int]:
        """EOS and end-of-turn ids of the tokenizer, plus those given."""
        return self._stop_ids

    @property
    def token_prompts(self) -> bool | None:
        """Whether prompts go as token ids (None until detected)."""
        return self._token_prompts

    @property
    def supports_n(self) -> bool | None:
        """Whether the server answers ``n`` choices per request (None until detected)."""
        return self._supports_n

    # ----------------------------------------------------------------- text <-> ids

    def tokenize(self, text: str) -> list[int]:
        """Ids of ``text``; text that looks like a special token is split like plain text."""
        return self.chat_format.tokenize(text)

    def detokenize(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` with special tokens dropped and spacing kept as generated."""
        return self.chat_format.detokenize(ids)

    def chat_prompt_ids(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        """Ids of the messages in the model's chat format (see ``ChatFormat.chat_prompt_ids``).

        Raises:
            PromptError: no messages, a malformed message, or the template rejects them.
        """
        return self.chat_format.chat_prompt_ids(messages)

    # ----------------------------------------------------------------- protocol calls

    def propose(self, requests: Sequence[ProposalRequest]) -> list[list[Candidate]]:
        """Distinct candidate sets per request: the greedy set first, then top-k samples.

        Same contract as ``TransformersBackend.propose``: a set ends early right after a stop
        id; ``logprob`` sums each token's log-probability renormalised over the position's
        top-``top_k`` alternatives (as returned by the server: when ``top_k`` exceeds
        ``top_logprobs`` the pool is the returned alternatives, so priors are slightly high).
        When the server stops at an end-of-sequence token without reporting it (llama.cpp),
        the set gets the tokenizer's EOS id and that token counts as log-probability 0.
        """
        return [self._propose_one(request) for request in requests]

    def rollout(
        self,
        prefixes: Sequence[Sequence[int]],
        *,
        boundaries: str,
        max_tokens: int,
        seed: int,
        temperature: float = 1.0,
    ) -> list[list[int]]:
        """Sample each prefix on (full distribution) to the next boundary, one request each.

        Stops after a token whose decoded text ends with a character of ``boundaries``, after
        a stop id (included) or after ``max_tokens``. With stop strings (see
        ``rollout_stop_strings``) a token that merely contains a boundary character also ends
        it, since the server stopped there. ``temperature`` 0 asks the server for greedy
        decoding.
        """
        _check_rollout_temperature(temperature)
        jobs = [
            (i, tuple(int(t) for t in p))
            for i, p in enumerate(prefixes)
            if max_tokens > 0 and not self.chat_format.at_boundary(tuple(p), [], boundaries)
        ]

        def run(job: tuple[int, tuple[int, ...]]) -> list[int]:
            i, prefix = job
            fields = self._sampling(temperature, None, _seed(seed, i))
            fields.update(max_tokens=max_tokens, **self._id_fields())
            stop = self.rollout_stop_strings
            if stop or (stop is None and self._token_prompts is not False):
                fields.update(stop=list(dict.fromkeys(boundaries)), logprobs=1)
            choice = self._complete(prefix, fields)[0]
            return self._cut_at_boundary(prefix, choice.ids, boundaries, max_tokens)

        outs: list[list[int]] = [[] for _ in prefixes]
        for (i, _), ids in zip(jobs, self._map(run, jobs), strict=True):
            outs[i] = ids
        return outs

    def option_probs(
        self, prompts: Sequence[Sequence[int]], option_ids: Sequence[int]
    ) -> list[list[float]]:
        """Next-token probability of each option id after each prompt, one request each.

        Read from the ``top_logprobs`` alternatives of one generated token. An option that is
        not among them gets the fallback probability ``min(remaining / missing, smallest
        returned)``, where ``remaining`` is the mass the returned alternatives leave and
        ``missing`` the number of options not found: it cannot exceed what the server ranked
        above it, and the options together cannot exceed the leftover mass.

        Raises:
            ServerRequestError: the server returned no log-probabilities.
        """
        options = [int(o) for o in option_ids]
        pieces = [self._piece(o) for o in options]

        def run(prompt: Sequence[int]) -> list[float]:
            return self._option_row(tuple(int(t) for t in prompt), options, pieces)

        return self._map(run, list(prompts))

    def generate(
        self, prefix: Sequence[int], *, max_new_tokens: int, seed: int | None
    ) -> list[int]:
        """Vanilla decoding: greedy when ``seed`` is None, else seeded full-softmax sampling.

        Returns the new ids; a stop id ends decoding and is not included.
        """
        if max_new_tokens <= 0:
            return []
        fields = self._sampling(0.0 if seed is None else 1.0, None, seed)
        fields.update(max_tokens=max_new_tokens, **self._id_fields())
        ids = self._complete(tuple(int(t) for t in prefix), fields)[0].ids
        for n, token in enumerate(ids):
            if token in self._stop_ids:
                return ids[:n]
        return ids

    # ----------------------------------------------------------------- propose

    def _propose_one(self, req: ProposalRequest) -> list[Candidate]:
        if req.num_candidates < 1 or req.length < 1 or req.top_k < 1:
            raise BackendError(f"num_candidates, length and top_k must be >= 1, got {req}")
        _check_temperature(req.temperature)
        prefix = tuple(int(t) for t in req.prefix)
        if req.length == 1:
            return self._top_tokens(prefix, req)
        found: dict[tuple[int, ...], float] = {}
        rows = req.num_candidates + min(len(req.exclude), req.num_candidates)
        for round_ in range(2):
            for tokens, logprob in self._sample_sets(prefix, req, rows, round_):
                if tokens not in req.exclude and tokens not in found:
                    found[tokens] = logprob
            missing = req.num_candidates - len(found)
            if missing <= 0:
                break
            rows = min(2 * missing, 2 * req.num_candidates)
        return [Candidate(t, lp) for t, lp in list(found.items())[: req.num_candidates]]

    def _top_tokens(self, prefix: tuple[int, ...], req: ProposalRequest) -> list[Candidate]:
        """One-token sets: the most likely returned alternatives not excluded, best first."""
        want = min(max(req.top_k, req.num_candidates + len(req.exclude)), self.top_logprobs)
        fields = self._sampling(0.0, req.top_k, None)
        fields.update(max_tokens=1, logprobs=want)
        choice = self._complete(prefix, fields)[0]
        top = self._first_top(choice, prefix, fields)
        ranked = sorted(top.items(), key=lambda kv: -kv[1])
        log_pool = _logsumexp([lp for _, lp in ranked[: req.top_k]])
        out: list[Candidate] = []
        for key, logprob in ranked:
            ids = self._key_ids(key)
            if len(ids) != 1 or (ids[0],) in req.exclude:
                continue
            if any(c.tokens == (ids[0],) for c in out):
                continue
            out.append(Candidate((ids[0],), min(0.0, logprob - log_pool)))
            if len(out) == req.num_candidates:
                break
        return out

    def _sample_sets(
        self, prefix: tuple[int, ...], req: ProposalRequest, rows: int, round_: int
    ) -> list[tuple[tuple[int, ...], float]]:
        """``rows`` sets: row 0 greedy in round 0, the rest seeded top-k samples.

        The samples are one request with ``n`` unless the server is known to ignore ``n``;
        an ``n`` request answered with fewer choices marks the server as such (llama.cpp)
        and the missing samples are sent as concurrent single requests.
        """
        base = {"max_tokens": req.length, "logprobs": min(req.top_k, self.top_logprobs)}
        seed = _seed(req.seed, round_)
        samples = rows - (1 if round_ == 0 else 0)
        use_n = samples > 1 and self._supports_n is not False
        jobs: list[tuple[dict[str, Any], int]] = []  # (fields, choices wanted)
        if round_ == 0:
            jobs.append(({**self._sampling(0.0, req.top_k, None), **base}, 1))
        if use_n:
            fields = {**self._sampling(req.temperature, req.top_k, seed), **base, "n": samples}
            jobs.append((fields, samples))
        else:
            jobs += [(self._single_sample(req, base, seed, j), 1) for j in range(samples)]
        answers = self._map(lambda job: self._complete(prefix, job[0])[: job[1]], jobs)
        choices = [c for answer in answers for c in answer]
        if use_n:
            got = len(answers[-1])
            if self._supports_n is None:
                self._supports_n = got >= samples
                logger.info("%s answers n > 1: %s", self.base_url, self._supports_n)
            rest = [self._single_sample(req, base, seed, j) for j in range(got, samples)]
            choices += self._map(lambda f: self._complete(prefix, f)[0], rest)
        return [self._scored_set(c, req) for c in choices]

    def _single_sample(
        self, req: ProposalRequest, base: dict[str, Any], seed: int, j: int
    ) -> dict[str, Any]:
        return {**self._sampling(req.temperature, req.top_k, _seed(seed, j)), **base}

    def _scored_set(self, choice: _Choice, req: ProposalRequest) -> tuple[tuple[int, ...], float]:
        """The set's ids (cut after a stop id) and its top-k renormalised log-probability."""
        ids = choice.ids[: req.length]
        for n, token in enumerate(ids):
            if token in self._stop_ids:
                ids = ids[: n + 1]
                break
        total = 0.0
        for i in range(min(len(ids), len(choice.logprobs))):
            chosen = choice.logprobs[i]
            if chosen is None:
                continue
            top = choice.tops[i] if i < len(choice.tops) else {}
            pool = sorted(top.values(), reverse=True)[: req.top_k]
            if not pool or chosen < pool[-1]:
                pool.append(chosen)
            total += min(0.0, chosen - _logsumexp(pool))
        return tuple(ids), total

    # ----------------------------------------------------------------- option scoring

    def _option_row(
        self, prompt: tuple[int, ...], options: list[int], pieces: list[str]
    ) -> list[float]:
        fields = self._sampling(0.0, None, None)
        fields.update(max_tokens=1, logprobs=self.top_logprobs)
        choice = self._complete(prompt, fields)[0]
        top = self._first_top(choice, prompt, fields)
        found: dict[int, float] = {}
        for key, logprob in top.items():
            ids = self._key_ids(key)
            for option, piece in zip(options, pieces, strict=True):
                if option in ids or key == piece:
                    found[option] = max(found.get(option, -math.inf), logprob)
        return _fill_missing(options, found, list(top.values()))

    def _first_top(
        self, choice: _Choice, prompt: tuple[int, ...], fields: dict[str, Any]
    ) -> dict[str, float]:
        """Top alternatives of the first generated position.

        A server that stops at an end-of-sequence token without reporting it (llama.cpp)
        returns nothing when EOS is the most likely first token (the request is greedy). Then
        it is sent again with the stop ids banned by ``logit_bias``; llama.cpp still reports
        the unbiased log-probabilities, where EOS is the largest value but has no usable name
        (special tokens print as ""), so the largest value is given to the tokenizer's EOS id
        and nameless entries are dropped.
        """
        if choice.tops and choice.tops[0]:
            return dict(choice.tops[0])
        if not choice.stopped_at_eos:
            raise ServerRequestError(
                f"the server at {self.base_url} returned no logprobs; it must support the "
                "'logprobs' field of /v1/completions (llama.cpp: start it with logits_all)"
            )
        banned = {**fields, "logit_bias": {str(t): -100.0 for t in sorted(self._stop_ids)}}
        retry = self._complete(prompt, banned)[0]
        if not (retry.tops and retry.tops[0]):
            raise ServerRequestError(f"the server at {self.base_url} returned no logprobs")
        top = {key: lp for key, lp in retry.tops[0].items() if key}
        top[f"{_TOKEN_ID_PREFIX}{self._default_stop}"] = max(retry.tops[0].values())
        return top

    # ----------------------------------------------------------------- roll-outs

    def _cut_at_boundary(
        self, prefix: tuple[int, ...], ids: list[int], boundaries: str, max_tokens: int
    ) -> list[int]:
        ids = ids[:max_tokens]
        for n in range(1, len(ids) + 1):
            if self.chat_format.at_boundary(prefix, ids[:n], boundaries):
                return ids[:n]
        return ids

    # ----------------------------------------------------------------- requests

    def _id_fields(self) -> dict[str, Any]:
        """Fields that make a server return token ids when only the ids are needed.

        vLLM and SGLang return ``token_ids``; older vLLM names tokens ``token_id:N`` in the
        log-probabilities (cheap there). llama.cpp's log-probabilities cost a full-vocabulary
        sort per token in Python, so in text mode the completion text is re-tokenised instead.
        """
        return {} if self._token_prompts is False else {"logprobs": 1}

    def _sampling(self, temperature: float, top_k: int | None, seed: int | None) -> dict:
        """Sampling fields that override every engine's defaults (see the module notes)."""
        fields: dict[str, Any] = {
            "temperature": float(temperature),
            "top_p": 1.0,
            "min_p": 0.0,
            "top_k": int(top_k) if top_k else -1,  # -1: whole vocabulary
            "presence_penalty": 0.0,
            "frequency_penalty": 0.0,
        }
        if seed is not None:
            fields["seed"] = int(seed)
        return fields

    def _complete(self, prefix: tuple[int, ...], fields: dict[str, Any]) -> list[_Choice]:
        """POST /completions for ``prefix``; the choices, in index order.

        The first call with ``token_prompts=None`` detects the prompt format (serialised).
        """
        if not prefix:
            raise BackendError("an empty token sequence has no next-token distribution")
        if self._token_prompts is None:
            with self._detect_lock:
                if self._token_prompts is None:
                    return self._detect(prefix, fields)
        return self._request(prefix, fields, self._token_prompts)

    def _detect(self, prefix: tuple[int, ...], fields: dict[str, Any]) -> list[_Choice]:
        try:
            choices = self._request(prefix, fields, True)
        except ServerRequestError as exc:
            if exc.status not in (400, 422) and "validation error" not in str(exc):
                raise
            logger.info("%s rejects token-id prompts (%s); sending text", self.base_url, exc)
            choices = self._request(prefix, fields, False)
            self._token_prompts = False
            return choices
        self._token_prompts = True
        return choices

    def _request(
        self, prefix: tuple[int, ...], fields: dict[str, Any], token_prompts: bool
    ) -> list[_Choice]:
        body: dict[str, Any] = {**fields, **self.extra_body}
        if self.model is not None:
            body["model"] = self.model
        if token_prompts:
            body["prompt"] = list(prefix)
            body.setdefault("return_token_ids", True)  # vLLM >= 0.10.2, SGLang
            body.setdefault("return_tokens_as_token_ids", True)  # vLLM
        else:
            body["prompt"] = self.chat_format.raw_text(prefix)
            body.setdefault("repeat_penalty", 1.0)  # llama.cpp's default is 1.1
            if body.get("top_k") == -1:
                body["top_k"] = 0  # llama.cpp's schema: 0 = whole vocabulary, -1 rejected
        data = self._post("/completions", body)
        self._account(data, len(prefix), token_prompts)
        raw = data.get("choices")
        if not isinstance(raw, list) or not raw:
            raise ServerRequestError(f"the server at {self.base_url} returned no choices")
        raw = sorted(raw, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
        return [self._parse_choice(c, bool(body.get("stop"))) for c in raw]

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries (exponential backoff) on connection errors and 408/429/5xx."""
        return self._http("POST", path, body)

    def _http(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict:
        url = self.base_url + path
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.retry_backoff * 2 ** (attempt - 1))
            try:
                response = self._client.request(method, url, json=body)
            except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as exc:
                # Alive but slow: sending the work again would only queue more of it.
                raise ServerUnavailableError(
                    f"the server at {url} did not answer within the timeout "
                    f"({type(exc).__name__}); raise timeout= or lower max_concurrency="
                ) from exc
            except httpx.TransportError as exc:  # refused, reset, DNS, connect timeouts
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in _RETRY_STATUS and not _is_validation_error(response):
                last = f"HTTP {response.status_code}: {_error_text(response)}"
                continue
            if response.status_code >= 400:
                raise ServerRequestError(
                    f"the server at {url} rejected the request: HTTP {response.status_code}: "
                    f"{_error_text(response)}",
                    status=response.status_code,
                )
            try:
                data = response.json()
            except ValueError as exc:
                raise ServerRequestError(f"the server at {url} did not answer JSON") from exc
            if not isinstance(data, dict):
                raise ServerRequestError(f"the server at {url} answered {type(data).__name__}")
            return data
        raise ServerUnavailableError(
            f"the server at {url} is unreachable or failing after "
            f"{self.max_retries + 1} attempts ({last}); is it running?"
        )

    def _server_context_length(self) -> int | None:
        """``max_model_len`` from ``GET /models`` (vLLM, SGLang), or None."""
        try:
            data = self._http("GET", "/models")
        except ServerRequestError:
            return None
        for card in data.get("data") or []:
            if not isinstance(card, dict):
                continue
            if self.model is not None and card.get("id") not in (self.model, None):
                continue
            value = card.get("max_model_len")
            if isinstance(value, int) and value > 0:
                return value
        return None

    def _account(self, data: dict[str, Any], prompt_len: int, token_prompts: bool) -> None:
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        prompt_tokens = _int(usage.get("prompt_tokens"))
        completion_tokens = _int(usage.get("completion_tokens"))
        details = usage.get("prompt_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
        with self._lock:
            c = self.counters
            c.forward_calls += 1
            c.tokens_processed += prompt_tokens + completion_tokens
            if cached:
                c.extra["cached_tokens"] = c.extra.get("cached_tokens", 0) + cached
            if not token_prompts and prompt_tokens and prompt_tokens != prompt_len:
                c.extra["prompt_retokenized"] = c.extra.get("prompt_retokenized", 0) + 1

    # ----------------------------------------------------------------- responses -> ids

    def _parse_choice(self, raw: Any, stop_strings: bool) -> _Choice:
        if not isinstance(raw, dict):
            raise ServerRequestError(f"the server at {self.base_url} sent a malformed choice")
        text = raw.get("text") or ""
        finish = raw.get("finish_reason")
        lp = raw.get("logprobs") if isinstance(raw.get("logprobs"), dict) else {}
        tokens = [str(t) for t in lp.get("tokens") or []]
        logprobs = [_float_or_none(v) for v in lp.get("token_logprobs") or []]
        tops = [
            {str(k): float(v) for k, v in (t or {}).items() if _float_or_none(v) is not None}
            for t in lp.get("top_logprobs") or []
        ]
        ids, exact = self._choice_ids(raw, tokens, text)
        stopped_at_eos = (
            finish == "stop"
            and not (ids and ids[-1] in self._stop_ids)
            and not (stop_strings and self._stopped_by_string(raw, ids, exact))
        )
        if stopped_at_eos:
            ids = [*ids, self._default_stop]
        return _Choice(ids, logprobs, tops, stopped_at_eos)

    def _stopped_by_string(self, raw: dict[str, Any], ids: list[int], exact: bool) -> bool:
        """Whether a "stop" finish came from a stop string rather than an EOS token.

        vLLM and SGLang name the matched string; llama.cpp does not, but its text then ends
        before the ids' text does. Re-tokenised ids cannot tell: assumed a stop string.
        """
        if _matched_stop_string(raw) is not None or not exact:
            return True
        return bool(ids) and len(self.detokenize(ids)) > len(raw.get("text") or "")

    def _choice_ids(
        self, raw: dict[str, Any], tokens: list[str], text: str
    ) -> tuple[list[int], bool]:
        """Ids of a choice and whether they are the server's own (not re-tokenised text).

        In order: ``token_ids``, ``token_id:N`` strings, token strings that spell the text
        (stop strings trim only the text), else the text (plus the matched stop string)
        tokenised locally.
        """
        token_ids = raw.get("token_ids")
        if isinstance(token_ids, list) and all(isinstance(t, int) for t in token_ids):
            return list(token_ids), True
        if tokens and all(t.startswith(_TOKEN_ID_PREFIX) for t in tokens):
            return [int(t[len(_TOKEN_ID_PREFIX) :]) for t in tokens], True
        if tokens and "".join(tokens).startswith(text):
            ids = [self._key_ids(t) for t in tokens]
            if all(len(i) == 1 for i in ids):
                return [i[0] for i in ids], True
        stop = _matched_stop_string(raw)
        return (self.tokenize(text + (stop or "")) if text or stop else []), False

    def _key_ids(self, key: str) -> tuple[int, ...]:
        """Ids a returned token string stands for: ``token_id:N``, or the local encoding.

        A string that the tokenizer encodes as exactly one id maps to it; others map to none.
        """
        if key.startswith(_TOKEN_ID_PREFIX):
            rest = key[len(_TOKEN_ID_PREFIX) :]
            return (int(rest),) if rest.isdigit() else ()
        with self._lock:
            cached = self._piece_ids.get(key)
        if cached is None:
            cached = tuple(self._specials_or_encode(key))
            cached = cached if len(cached) == 1 else ()
            with self._lock:
                self._piece_ids[key] = cached
        return cached

    def _specials_or_encode(self, key: str) -> list[int]:
        specials = self.chat_format.specials
        if key in specials:
            return [specials[key]]
        if not key:
            return []
        return list(self.tokenizer.encode(key, add_special_tokens=False))

    def _piece(self, token: int) -> str:
        """The text one token id decodes to (how servers name it in ``top_logprobs``)."""
        return self.chat_format.raw_text([token])

    # ----------------------------------------------------------------- concurrency

    def _map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """``fn`` over ``items`` concurrently (at most ``max_concurrency`` at once), in order."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self.max_concurrency, thread_name_prefix="rain-served"
                )
            pool = self._pool
        if threading.current_thread().name.startswith("rain-served"):
            return [fn(item) for item in items]  # nested: never wait on our own pool
        return list(pool.map(fn, items))


# --------------------------------------------------------------------- helpers


def _v1_url(base_url: str) -> str:
    url = base_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
    return url if url.endswith("/v1") else url + "/v1"


def _seed(base: int, *parts: int) -> int:
    """A 31-bit seed that depends only on ``base`` and the parts (never on call order)."""
    data = ",".join(str(p) for p in (base, *parts)).encode()
    return zlib.crc32(data) & 0x7FFFFFFF


def _logsumexp(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def _fill_missing(
    options: list[int], found: dict[int, float], returned: list[float]
) -> list[float]:
    """Option probabilities; those not returned share the leftover mass (see option_probs)."""
    probs = {o: math.exp(lp) for o, lp in found.items()}
    missing = [o for o in options if o not in probs]
    if missing:
        mass = [math.exp(v) for v in returned]
        remaining = max(0.0, 1.0 - sum(mass))
        fallback = min(remaining / len(missing), min(mass)) if mass else 0.0
        probs.update(dict.fromkeys(missing, fallback))
    return [probs[o] for o in options]


def _matched_stop_string(raw: dict[str, Any]) -> str | None:
    """The stop string that ended a choice (vLLM ``stop_reason``, SGLang ``matched_stop``)."""
    for key in ("stop_reason", "matched_stop"):
        value = raw.get(key)
        if isinstance(value, str):
            return value
    return None


def _default_stop(tokenizer: Any, stop_ids: frozenset[int]) -> int:
    """The id a server's unreported end-of-sequence stands for: the tokenizer's EOS."""
    eos = tokenizer.eos_token_id
    if isinstance(eos, int):
        return eos
    if not stop_ids:
        raise BackendError("the tokenizer has no EOS token; pass stop_token_ids")
    return min(stop_ids)


def _config_eos_ids(source: str | Path) -> set[int]:
    """EOS ids of a model's config and generation config, where they can be read locally."""
    from transformers import AutoConfig, GenerationConfig

    ids: set[int] = set()
    for loader in (GenerationConfig.from_pretrained, AutoConfig.from_pretrained):
        try:
            config = loader(str(source))
        except Exception:  # noqa: BLE001 - tokenizer-only folders have no configs
            continue
        eos = getattr(config, "eos_token_id", None)
        ids.update([eos] if isinstance(eos, int) else [int(e) for e in eos or []])
    return ids


def _is_embedded(path: Path) -> bool:
    from rain_guard.models import resolve as models

    try:
        return path == models.embedded_gguf_path().resolve()
    except Exception:  # noqa: BLE001 - the embedded package is optional here
        return False


def _tokenizer_name(tokenizer: Any) -> str:
    return str(getattr(tokenizer, "name_or_path", "") or "served")


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message", data)))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:300]
    return str(data)[:300]


def _is_validation_error(response: httpx.Response) -> bool:
    """llama-cpp-python answers schema violations with HTTP 500 "N validation errors"."""
    return response.status_code == 500 and "validation error" in _error_text(response)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
