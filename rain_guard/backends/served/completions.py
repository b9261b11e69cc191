"""Completions: ``POST /v1/completions`` for a token prefix, as token ids or as text.

Prompts are sent as token-id lists where the server accepts them (vLLM, SGLang): the server
sees exactly the search's prefix and its prefix cache reuses it across rewinds. llama.cpp's
OpenAI server accepts only strings, so there the prefix is decoded to text (special tokens
kept) and the server re-tokenises it. Caveat: BPE may merge tokens across the boundary of
two search steps differently from the ids the search holds, so the server can condition on
a different (equally valid) tokenisation of the same text; ``counters.extra
["prompt_retokenized"]`` counts requests whose server-side prompt length differed. The mode
is detected once (``token_prompts=None``): a token-id prompt is tried, and a validation error
(HTTP 400/422, or llama-cpp-python's HTTP 500 "validation error") switches to text for good.

Served engines differ in sampling defaults (llama.cpp: top_k 40, top_p 0.95, min_p 0.05,
repeat penalty 1.1), so every request states ``top_p=1``, ``min_p=0``, no penalties and an
explicit ``top_k`` (full vocabulary: -1, or 0 in llama.cpp's text mode, whose schema rejects
-1).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from rain_guard.backends.base import WorkCounters
from rain_guard.backends.served.choices import TOKEN_ID_PREFIX, Choice, ChoiceReader
from rain_guard.backends.served.http import ServerClient, ServerRequestError
from rain_guard.errors import BackendError

logger = logging.getLogger(__name__)


class Completions:
    """Completion requests for token prefixes, in the prompt mode the server takes.

    Args:
        client: The server.
        reader: Turns the answers' choices back into ids.
        counters: Where requests, tokens and server-side cache hits are counted.
        model: Model name sent in requests; None omits the field.
        token_prompts: Send prompts as token ids (True), as text (False) or detect (None).
        extra_body: Fields added to every request.
    """

    def __init__(
        self,
        client: ServerClient,
        reader: ChoiceReader,
        counters: WorkCounters,
        *,
        model: str | None,
        token_prompts: bool | None,
        extra_body: dict[str, Any],
    ) -> None:
        self.client = client
        self.reader = reader
        self.counters = counters
        self.model = model
        self.token_prompts = token_prompts
        self.extra_body = extra_body
        self._lock = threading.Lock()  # counters
        self._detect_lock = threading.Lock()

    def complete(self, prefix: tuple[int, ...], fields: dict[str, Any]) -> list[Choice]:
        """POST /completions for ``prefix``; the choices, in index order.

        The first call with ``token_prompts=None`` detects the prompt format (serialised).
        """
        if not prefix:
            raise BackendError("an empty token sequence has no next-token distribution")
        if self.token_prompts is None:
            with self._detect_lock:
                if self.token_prompts is None:
                    return self._detect(prefix, fields)
        return self._request(prefix, fields, self.token_prompts)

    def id_fields(self) -> dict[str, Any]:
        """Fields that make a server return token ids when only the ids are needed.

        vLLM and SGLang return ``token_ids``; older vLLM names tokens ``token_id:N`` in the
        log-probabilities (cheap there). llama.cpp's log-probabilities cost a full-vocabulary
        sort per token in Python, so in text mode the completion text is re-tokenised instead.
        """
        return {} if self.token_prompts is False else {"logprobs": 1}

    def first_top(
        self, choice: Choice, prompt: tuple[int, ...], fields: dict[str, Any]
    ) -> dict[str, float]:
        """Top alternatives of the first generated position of ``choice`` (asked with ``fields``).

        A server that stops at an end-of-sequence token without reporting it (llama.cpp)
        returns nothing when EOS is the most likely first token (the request is greedy). Then
        it is sent again with the stop ids banned by ``logit_bias``; llama.cpp still reports
        the unbiased log-probabilities, where EOS is the largest value but has no usable name
        (special tokens print as ""), so the largest value is given to the tokenizer's EOS id
        and nameless entries are dropped.

        Raises:
            ServerRequestError: the server returned no log-probabilities.
        """
        if choice.tops and choice.tops[0]:
            return dict(choice.tops[0])
        server = self.client.base_url
        if not choice.stopped_at_eos:
            raise ServerRequestError(
                f"the server at {server} returned no logprobs; it must support the "
                "'logprobs' field of /v1/completions (llama.cpp: start it with logits_all)"
            )
        stop_ids = sorted(self.reader.chat_format.stop_ids)
        banned = {**fields, "logit_bias": {str(t): -100.0 for t in stop_ids}}
        retry = self.complete(prompt, banned)[0]
        if not (retry.tops and retry.tops[0]):
            raise ServerRequestError(f"the server at {server} returned no logprobs")
        top = {key: lp for key, lp in retry.tops[0].items() if key}
        top[f"{TOKEN_ID_PREFIX}{self.reader.default_stop}"] = max(retry.tops[0].values())
        return top

    def _detect(self, prefix: tuple[int, ...], fields: dict[str, Any]) -> list[Choice]:
        try:
            choices = self._request(prefix, fields, True)
        except ServerRequestError as exc:
            if exc.status not in (400, 422) and "validation error" not in str(exc):
                raise
            logger.info("%s rejects token-id prompts (%s); sending text", self.client.base_url, exc)
            choices = self._request(prefix, fields, False)
            self.token_prompts = False
            return choices
        self.token_prompts = True
        return choices

    def _request(
        self, prefix: tuple[int, ...], fields: dict[str, Any], token_prompts: bool
    ) -> list[Choice]:
        body: dict[str, Any] = {**fields, **self.extra_body}
        if self.model is not None:
            body["model"] = self.model
        if token_prompts:
            body["prompt"] = list(prefix)
            body.setdefault("return_token_ids", True)  # vLLM >= 0.10.2, SGLang
            body.setdefault("return_tokens_as_token_ids", True)  # vLLM
        else:
            body["prompt"] = self.reader.chat_format.raw_text(prefix)
            body.setdefault("repeat_penalty", 1.0)  # llama.cpp's default is 1.1
            if body.get("top_k") == -1:
                body["top_k"] = 0  # llama.cpp's schema: 0 = whole vocabulary, -1 rejected
        data = self.client.post("/completions", body)
        self._account(data, len(prefix), token_prompts)
        raw = data.get("choices")
        if not isinstance(raw, list) or not raw:
            raise ServerRequestError(f"the server at {self.client.base_url} returned no choices")
        raw = sorted(raw, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
        return [self.reader.parse(c, bool(body.get("stop"))) for c in raw]

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


def sampling_fields(temperature: float, top_k: int | None, seed: int | None) -> dict[str, Any]:
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


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0
