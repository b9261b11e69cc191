"""ChoiceReader: a server's completion choices back to token ids and log-probabilities.

Returned tokens are mapped back to ids from, in order: ``token_ids`` in the choice (vLLM and
SGLang with ``return_token_ids``), ``"token_id:N"`` strings (vLLM's
``return_tokens_as_token_ids``), the ``logprobs.tokens`` strings looked up through the local
tokenizer when they spell the text, and last the completion text re-tokenised locally (which
can split differently from what the server sampled; only then are ids approximate).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from rain_guard.backends.chat_format import ChatFormat
from rain_guard.backends.served.http import ServerRequestError
from rain_guard.errors import BackendError

TOKEN_ID_PREFIX = "token_id:"


@dataclass
class Choice:
    """One completion choice, normalised: ids plus per-position log-probabilities.

    ``logprobs[i]`` and ``tops[i]`` follow the server's tokens, which are ``ids`` except when
    the ids had to be re-tokenised from text; ``tops[i]`` maps the server's token strings (or
    ``token_id:N``) to log-probabilities.
    """

    ids: list[int]
    logprobs: list[float | None] = field(default_factory=list)
    tops: list[dict[str, float]] = field(default_factory=list)
    stopped_at_eos: bool = False


class ChoiceReader:
    """Reads choices with one tokenizer; remembers which id each token string stands for.

    Args:
        chat_format: The served model's tokenizer adapter.
        server: The server's URL, for error messages.

    Attributes:
        default_stop: The id a server's unreported end-of-sequence stands for: the
            tokenizer's EOS, else the smallest stop id.

    Raises:
        BackendError: the tokenizer has no EOS token and there are no stop ids.
    """

    def __init__(self, chat_format: ChatFormat, server: str) -> None:
        self.chat_format = chat_format
        self.server = server
        self.default_stop = _default_stop(chat_format)
        self._lock = threading.Lock()
        self._piece_ids: dict[str, tuple[int, ...]] = {}

    def parse(self, raw: Any, stop_strings: bool) -> Choice:
        """One raw choice; ``stop_strings``: the request sent ``stop`` strings."""
        if not isinstance(raw, dict):
            raise ServerRequestError(f"the server at {self.server} sent a malformed choice")
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
            and not (ids and ids[-1] in self.chat_format.stop_ids)
            and not (stop_strings and self._stopped_by_string(raw, ids, exact))
        )
        if stopped_at_eos:
            ids = [*ids, self.default_stop]
        return Choice(ids, logprobs, tops, stopped_at_eos)

    def key_ids(self, key: str) -> tuple[int, ...]:
        """Ids a returned token string stands for: ``token_id:N``, or the local encoding.

        A string that the tokenizer encodes as exactly one id maps to it; others map to none.
        """
        if key.startswith(TOKEN_ID_PREFIX):
            rest = key[len(TOKEN_ID_PREFIX) :]
            return (int(rest),) if rest.isdigit() else ()
        with self._lock:
            cached = self._piece_ids.get(key)
        if cached is None:
            cached = tuple(self._specials_or_encode(key))
            cached = cached if len(cached) == 1 else ()
            with self._lock:
                self._piece_ids[key] = cached
        return cached

    def piece(self, token: int) -> str:
        """The text one token id decodes to (how servers name it in ``top_logprobs``)."""
        return self.chat_format.raw_text([token])

    def _stopped_by_string(self, raw: dict[str, Any], ids: list[int], exact: bool) -> bool:
        """Whether a "stop" finish came from a stop string rather than an EOS token.

        vLLM and SGLang name the matched string; llama.cpp does not, but its text then ends
        before the ids' text does. Re-tokenised ids cannot tell: assumed a stop string.
        """
        if matched_stop_string(raw) is not None or not exact:
            return True
        return bool(ids) and len(self.chat_format.detokenize(ids)) > len(raw.get("text") or "")

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
        if tokens and all(t.startswith(TOKEN_ID_PREFIX) for t in tokens):
            return [int(t[len(TOKEN_ID_PREFIX) :]) for t in tokens], True
        if tokens and "".join(tokens).startswith(text):
            ids = [self.key_ids(t) for t in tokens]
            if all(len(i) == 1 for i in ids):
                return [i[0] for i in ids], True
        stop = matched_stop_string(raw)
        return (self.chat_format.tokenize(text + (stop or "")) if text or stop else []), False

    def _specials_or_encode(self, key: str) -> list[int]:
        specials = self.chat_format.specials
        if key in specials:
            return [specials[key]]
        if not key:
            return []
        return list(self.chat_format.tokenizer.encode(key, add_special_tokens=False))


def matched_stop_string(raw: dict[str, Any]) -> str | None:
    """The stop string that ended a choice (vLLM ``stop_reason``, SGLang ``matched_stop``)."""
    for key in ("stop_reason", "matched_stop"):
        value = raw.get(key)
        if isinstance(value, str):
            return value
    return None


def _default_stop(chat_format: ChatFormat) -> int:
    eos = chat_format.tokenizer.eos_token_id
    if isinstance(eos, int):
        return eos
    if not chat_format.stop_ids:
        raise BackendError("the tokenizer has no EOS token; pass stop_token_ids")
    return min(chat_format.stop_ids)


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
