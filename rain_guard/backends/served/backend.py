"""OpenAICompletionsBackend: RAIN over a served engine's OpenAI-compatible ``/v1/completions``.

The search needs next-token log-probabilities, seeded sampling and token-exact prefixes, which
chat endpoints do not give; the legacy completions endpoint of vLLM, SGLang and llama.cpp's
servers does. Tokenisation stays local (``ChatFormat`` over the model's Hugging Face
tokenizer), so chat prompts, option labels and stop ids are exactly those of the in-process
engine.

How each protocol call maps onto requests (every row of a call is its own request; the rows
are sent concurrently, at most ``max_concurrency`` in flight over the whole backend, so a
batching engine batches them; see ``rows``):

* ``propose``: per request, a greedy request and the samples as one ``n`` request (vLLM,
  SGLang) or single seeded requests (llama.cpp ignores ``n > 1``); one-token sets are the
  top alternatives of one request (see ``proposals``).
* ``propose_with_rollout_many``, ``rollout_many``: the rows above for every request or
  prefix, all sent together (the k leaves of a search pass, and the B searches of a
  ``SharedBatch``, come through these).
* ``rollout``: one sampled request per prefix, cut locally at the first boundary; with
  token-id prompts the boundary characters also go as ``stop`` strings (the server stops
  early), with text prompts (llama.cpp) the roll-out samples ``max_tokens`` and its text is
  re-tokenised (only the text of a roll-out is used: it is what gets evaluated).
* ``option_probs``: one request per prompt with ``max_tokens=1`` and
  ``logprobs=top_logprobs``; each option's probability is read from the returned top
  alternatives (see ``option_probs`` for labels outside them).
* ``generate``: one request, greedy (temperature 0) or seeded full-distribution sampling
  (with text prompts the answer text is re-tokenised, as for roll-outs).

How prompts travel (token ids or text) and how sampling defaults are overridden:
``completions``; how answers become ids again: ``choices``. ``extra_body`` adds
engine-specific fields to every request.

Not registered in ``load_backend``: construct it directly (``from_gguf`` /
``from_pretrained``) and pass it as ``ChatRAIN(backend=...)`` or to ``rain_generate``. See
docs/served_engines.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from rain_guard.backends.base import Candidate, ProposalRequest, RolloutSpec, WorkCounters
from rain_guard.backends.chat_format import ChatFormat, ChatFormatText
from rain_guard.backends.checks import check_rollout_temperature
from rain_guard.backends.seeds import draw_seed
from rain_guard.backends.served.choices import Choice, ChoiceReader
from rain_guard.backends.served.completions import Completions, sampling_fields
from rain_guard.backends.served.http import ServerClient
from rain_guard.backends.served.logprobs import fill_missing
from rain_guard.backends.served.proposals import ServedProposals
from rain_guard.backends.served.rows import map_rows
from rain_guard.errors import BackendError, ConfigError


class OpenAICompletionsBackend(ChatFormatText):
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
        max_concurrency: Requests in flight at once, over every call and thread using this
            backend (default 8; ``from_gguf``: 1). The rows of a call (the k x B proposals and
            roll-outs of a search step, the option-scoring prompts) are sent concurrently up
            to this bound; 1 sends them one after another in the calling thread.
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

    Raises:
        ConfigError: ``top_logprobs`` or ``max_concurrency`` is not an integer >= 1, or
            ``max_retries`` is negative.

    Attributes:
        chat_format: Text <-> ids, chat prompts and stop ids of the tokenizer.
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
        _check_int("top_logprobs", top_logprobs, 1)
        _check_int("max_concurrency", max_concurrency, 1)
        _check_int("max_retries", max_retries, 0)
        self._client = ServerClient(
            base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            max_in_flight=max_concurrency,
        )
        self.base_url = self._client.base_url
        self.model = model
        self.tokenizer = tokenizer
        self.model_name = model_name or model or _tokenizer_name(tokenizer)
        self.counters = WorkCounters()
        self.top_logprobs = int(top_logprobs)
        self.max_concurrency = int(max_concurrency)
        self.extra_body = dict(extra_body or {})
        self.rollout_stop_strings = rollout_stop_strings
        self.chat_format = ChatFormat(tokenizer, self.model_name, stop_token_ids)
        self._stop_ids = self.chat_format.stop_ids
        self._reader = ChoiceReader(self.chat_format, self.base_url)
        self._completions = Completions(
            self._client,
            self._reader,
            self.counters,
            model=model,
            token_prompts=token_prompts,
            extra_body=self.extra_body,
        )
        self._proposals = ServedProposals(self._completions, self._map, supports_n)
        self._context_length = context_length

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
        """Close the HTTP connections."""
        self._client.close()

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
            server = self._client.max_model_len(self.model)
            self._context_length = server or self.chat_format.context_length()
        return self._context_length

    @property
    def stop_token_ids(self) -> frozenset[int]:
        """EOS and end-of-turn ids of the tokenizer, plus those given."""
        return self._stop_ids

    @property
    def token_prompts(self) -> bool | None:
        """Whether prompts go as token ids (None until detected)."""
        return self._completions.token_prompts

    @property
    def supports_n(self) -> bool | None:
        """Whether the server answers ``n`` choices per request (None until detected)."""
        return self._proposals.supports_n

    @property
    def max_retries(self) -> int:
        """Retries after a connection error or HTTP 408/429/5xx."""
        return self._client.max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self._client.max_retries = int(value)

    @property
    def retry_backoff(self) -> float:
        """First retry delay in seconds; doubles per retry."""
        return self._client.retry_backoff

    @retry_backoff.setter
    def retry_backoff(self, value: float) -> None:
        self._client.retry_backoff = float(value)

    # ----------------------------------------------------------------- text <-> ids

    # ----------------------------------------------------------------- protocol calls

    def propose(self, requests: Sequence[ProposalRequest]) -> list[list[Candidate]]:
        """Distinct candidate sets per request: the greedy set first, then top-k samples.

        Same contract as ``TransformersBackend.propose``: a set ends early right after a stop
        id; ``logprob`` sums each token's log-probability renormalised over the position's
        top-``top_k`` alternatives (as returned by the server: when ``top_k`` exceeds
        ``top_logprobs`` the pool is the returned alternatives, so priors are slightly high).
        When the server stops at an end-of-sequence token without reporting it (llama.cpp),
        the set gets the tokenizer's EOS id and that token counts as log-probability 0.
        The requests, and each request's samples, are sent concurrently.
        """
        requests = list(requests)
        n_rows = [i for i, r in enumerate(requests) if self._proposals.may_use_n(r)]
        propose = self._proposals.propose
        return self._map(lambda r: propose(r, self.top_logprobs), requests, n_rows=n_rows)

    def propose_with_rollout(
        self,
        request: ProposalRequest,
        *,
        boundaries: str,
        max_tokens: int,
        seed: int,
        temperature: float = 1.0,
    ) -> tuple[list[Candidate], list[int]]:
        """``propose([request])`` and ``rollout([request.prefix], ...)``, sent concurrently."""
        spec = RolloutSpec(boundaries, max_tokens, seed, temperature)
        return self.propose_with_rollout_many([request], [spec])[0]

    def propose_with_rollout_many(
        self, requests: Sequence[ProposalRequest], rollouts: Sequence[RolloutSpec]
    ) -> list[tuple[list[Candidate], list[int]]]:
        """Each request's candidates and a roll-out of its prefix, all rows sent concurrently.

        Request i's roll-out continues its prefix with ``rollouts[i]``; each result equals
        ``propose([request])[0]`` and ``rollout([request.prefix], **spec.kwargs())[0]`` made
        alone (every draw has its own seed). With ``max_concurrency`` 1 the rows go in the
        order those calls would send them: proposal, roll-out, next proposal.
        """
        if len(requests) != len(rollouts):
            raise BackendError(f"{len(requests)} requests but {len(rollouts)} roll-out specs")
        for spec in rollouts:
            check_rollout_temperature(spec.temperature)
        jobs: list[Callable[[], Any]] = []
        for request, spec in zip(requests, rollouts, strict=True):
            jobs.append(lambda r=request: self._proposals.propose(r, self.top_logprobs))
            jobs.append(lambda r=request, s=spec: self._rollout_row(r.prefix, s, 0))
        n_rows = [2 * i for i, r in enumerate(requests) if self._proposals.may_use_n(r)]
        done = self._map(lambda job: job(), jobs, n_rows=n_rows)
        return [(done[i], done[i + 1]) for i in range(0, len(done), 2)]

    def rollout_many(
        self, prefixes: Sequence[Sequence[int]], rollouts: Sequence[RolloutSpec]
    ) -> list[list[int]]:
        """``rollout`` of each prefix with its own spec, all sent concurrently.

        Each result equals ``rollout([prefix], **spec.kwargs())[0]`` made alone.
        """
        if len(prefixes) != len(rollouts):
            raise BackendError(f"{len(prefixes)} prefixes but {len(rollouts)} roll-out specs")
        for spec in rollouts:
            check_rollout_temperature(spec.temperature)
        pairs = list(zip(prefixes, rollouts, strict=True))
        return self._map(lambda pair: self._rollout_row(pair[0], pair[1], 0), pairs)

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
        check_rollout_temperature(temperature)
        spec = RolloutSpec(boundaries, max_tokens, seed, temperature)
        rows = list(enumerate(prefixes))
        return self._map(lambda row: self._rollout_row(row[1], spec, row[0]), rows)

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
        pieces = [self._reader.piece(o) for o in options]

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
        fields = sampling_fields(0.0 if seed is None else 1.0, None, seed)
        fields.update(max_tokens=max_new_tokens, **self._completions.id_fields())
        ids = self._complete(tuple(int(t) for t in prefix), fields)[0].ids
        for n, token in enumerate(ids):
            if token in self._stop_ids:
                return ids[:n]
        return ids

    # ----------------------------------------------------------------- option scoring

    def _option_row(
        self, prompt: tuple[int, ...], options: list[int], pieces: list[str]
    ) -> list[float]:
        fields = sampling_fields(0.0, None, None)
        fields.update(max_tokens=1, logprobs=self.top_logprobs)
        choice = self._complete(prompt, fields)[0]
        top = self._completions.first_top(choice, prompt, fields)
        found: dict[int, float] = {}
        for key, logprob in top.items():
            ids = self._reader.key_ids(key)
            for option, piece in zip(options, pieces, strict=True):
                if option in ids or key == piece:
                    found[option] = max(found.get(option, -math.inf), logprob)
        return fill_missing(options, found, list(top.values()))

    # ----------------------------------------------------------------- requests

    def _rollout_row(self, prefix: Sequence[int], spec: RolloutSpec, row: int) -> list[int]:
        """Row ``row`` of a roll-out call (its seed is ``draw_seed(spec.seed, row)``)."""
        ids = tuple(int(t) for t in prefix)
        boundaries, max_tokens = spec.boundaries, spec.max_tokens
        if max_tokens <= 0 or self.chat_format.at_boundary(ids, [], boundaries):
            return []
        fields = sampling_fields(spec.temperature, None, draw_seed(spec.seed, row))
        fields.update(max_tokens=max_tokens, **self._completions.id_fields())
        stop = self.rollout_stop_strings
        if boundaries and (stop or (stop is None and self.token_prompts is not False)):
            fields.update(stop=list(dict.fromkeys(boundaries)), logprobs=1)
        choice = self._complete(ids, fields)[0]
        return self._cut_at_boundary(ids, choice.ids, boundaries, max_tokens)

    def _cut_at_boundary(
        self, prefix: tuple[int, ...], ids: list[int], boundaries: str, max_tokens: int
    ) -> list[int]:
        ids = ids[:max_tokens]
        for n in range(1, len(ids) + 1):
            if self.chat_format.at_boundary(prefix, ids[:n], boundaries):
                return ids[:n]
        return ids

    def _complete(self, prefix: tuple[int, ...], fields: dict[str, Any]) -> list[Choice]:
        return self._completions.complete(prefix, fields)

    def _map(
        self, fn: Callable[[Any], Any], items: list[Any], *, n_rows: Sequence[int] = ()
    ) -> list[Any]:
        """``fn`` over ``items`` concurrently, in order; the client's slots bound the requests.

        While the prompt format is unknown the first row runs alone first, and while ``n``
        support is unknown so does the first of ``n_rows`` (rows that may ask for ``n``):
        the others then send what they would send after them one by one, so answers do not
        depend on ``max_concurrency``.
        """
        first = [0] if self.token_prompts is None and items else []
        if self.supports_n is None:
            first += [i for i in n_rows if i not in first][:1]
        return map_rows(fn, items, self.max_concurrency, first)


def _check_int(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{name} must be an integer >= {least}, got {value!r}")


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
