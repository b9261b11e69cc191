"""ChatFormat: a Hugging Face tokenizer as every engine uses it, in one place.

Both engines tokenise locally, the in-process one and the served one alike, so chat prompts,
option labels, stop ids and the roll-out boundary rule are the same whichever runs the model:
text to ids and back, the chat template with special-token look-alikes in messages kept as
plain text (a message cannot forge a turn), a "User:/Assistant:" prompt for tokenizers
without a template, the special-token table and the stop ids.

Every call into the tokenizer holds one lock per tokenizer object: a Hugging Face fast
tokenizer is not safe across threads (its Rust state is shared), and batched searches
(``SharedBatch``) and a served engine's concurrent requests tokenise and detokenise from
several threads at once. Without the lock a decoded answer can come out as a fragment of
another thread's text (e.g. ``'<|im_'``).

Needs only the tokenizer (no torch): importing it costs nothing.
"""

from __future__ import annotations

import re
import threading
import uuid
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from rain_guard.errors import PromptError

# Special tokens that end a turn in common chat formats; added to the stop ids when present.
END_OF_TURN_TOKENS = (
    "<|im_end|>",  # ChatML (SmolLM2, Qwen)
    "<|eot_id|>",  # Llama 3
    "<|end_of_text|>",  # Llama 3 base
    "<end_of_turn>",  # Gemma
    "<|end|>",  # Phi-3
    "<|endoftext|>",  # GPT-2 family, SmolLM2
)
FALLBACK_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}
DEFAULT_CONTEXT_LENGTH = 2048  # tokens, when neither model nor tokenizer says
TAIL_TOKENS = 8  # prefix tokens decoded with a continuation to find its last character

_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def tokenizer_lock(tokenizer: Any) -> threading.Lock:
    """The lock every ``ChatFormat`` of ``tokenizer`` holds while it calls the tokenizer.

    One lock per tokenizer object (not per ``ChatFormat``), so two formats or backends that
    share a tokenizer also take turns. A tokenizer that cannot be weakly referenced gets a
    lock of its own per call site's ``ChatFormat``.
    """
    with _LOCKS_GUARD:
        try:
            lock = _LOCKS.get(tokenizer)
            if lock is None:
                lock = _LOCKS[tokenizer] = threading.Lock()
        except TypeError:  # not weak-referenceable
            lock = threading.Lock()
        return lock


class ChatFormat:
    """Text <-> ids, chat prompts and stop ids of one tokenizer.

    Args:
        tokenizer: A Hugging Face tokenizer; its chat template is used when it has one.
        model_name: Name in error messages.
        eos_ids: More end-of-sequence ids (ints, lists of ints or None: a model config's or
            generation config's ``eos_token_id``, ids a caller names), added to the stop ids.

    Attributes:
        specials: Text -> id of every special added token.
        stop_ids: The tokenizer's EOS, ``eos_ids`` and the end-of-turn tokens it has.
    """

    def __init__(self, tokenizer: Any, model_name: str, eos_ids: Iterable[Any] = ()) -> None:
        self.tokenizer = tokenizer
        self.model_name = model_name
        self._lock = tokenizer_lock(tokenizer)
        self.specials = special_tokens(tokenizer)
        self.stop_ids = stop_ids(tokenizer, self.specials, eos_ids)
        self._special_re = _alternation(self.specials)

    def tokenize(self, text: str) -> list[int]:
        """Ids of ``text``; text that looks like a special token is split like plain text."""
        with self._lock:
            ids = self.tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)
        return list(ids)

    def detokenize(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` with special tokens dropped and spacing kept as generated."""
        return self._decode(ids, skip_special_tokens=True)

    def raw_text(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` with special tokens kept (what a server re-tokenises to them)."""
        return self._decode(ids, skip_special_tokens=False)

    def _decode(self, ids: Sequence[int], *, skip_special_tokens: bool) -> str:
        ints = [int(i) for i in ids]
        with self._lock:
            return self.tokenizer.decode(
                ints, skip_special_tokens=skip_special_tokens, clean_up_tokenization_spaces=False
            )

    def chat_prompt_ids(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        """Ids of the messages in the model's chat format, with the generation prompt appended.

        Special-token look-alikes inside message contents (e.g. ``"<|im_start|>"`` typed by a
        user) are tokenised as plain text, so a message cannot forge a turn. Without a chat
        template the prompt is "System: ...", "User: ..." lines ending in "Assistant:", after
        the BOS token if the tokenizer normally adds one.

        Raises:
            PromptError: no messages, a malformed message, or the template rejects them.
        """
        pairs = _check_messages(messages)
        if not getattr(self.tokenizer, "chat_template", None):
            return self._fallback_chat_ids(pairs)
        contents = [content for _, content in pairs]
        if self._special_re is None or not any(self._special_re.search(c) for c in contents):
            text = self._render(pairs)
            with self._lock:
                ids = self.tokenizer.encode(text, add_special_tokens=False)
            return list(ids)
        return self._encode_protected(pairs)

    def at_boundary(self, ids: Sequence[int], new: Sequence[int], boundaries: str) -> bool:
        """True after a stop id or when the text of the prefix tail + ``new`` ends a sentence.

        The roll-out rule: ``new`` continues ``ids``; the last character of their decoded
        text (the last ``TAIL_TOKENS`` of ``ids`` give the context) must be in ``boundaries``.
        """
        last = new[-1] if new else (ids[-1] if ids else None)
        if last in self.stop_ids:
            return True
        text = self.detokenize([*ids[-TAIL_TOKENS:], *new])
        return bool(text) and text[-1] in boundaries

    def context_length(self, *model_limits: Any) -> int:
        """The smallest sane limit of ``model_limits`` and the tokenizer's (tokens)."""
        limits = [*model_limits, getattr(self.tokenizer, "model_max_length", None)]
        sane = [int(v) for v in limits if isinstance(v, int) and 0 < v < 10_000_000]
        return min(sane) if sane else DEFAULT_CONTEXT_LENGTH

    def _render(self, pairs: list[tuple[str, str]]) -> str:
        try:
            with self._lock:
                return self.tokenizer.apply_chat_template(
                    [{"role": role, "content": content} for role, content in pairs],
                    add_generation_prompt=True,
                    tokenize=False,
                )
        except Exception as exc:  # jinja errors: e.g. roles must alternate
            raise PromptError(
                f"the chat template of {self.model_name} rejected the messages: {exc}"
            ) from exc

    def _fallback_chat_ids(self, pairs: list[tuple[str, str]]) -> list[int]:
        lines = [
            f"{FALLBACK_ROLES.get(role, role.capitalize())}: {content}\n" for role, content in pairs
        ]
        ids = self.tokenize("".join(lines) + "Assistant:")
        bos = self.tokenizer.bos_token_id
        if bos is None:
            return ids
        with self._lock:
            first = list(self.tokenizer.encode("a"))[:1]
        adds_bos = first == [bos]
        return [bos, *ids] if adds_bos else ids

    def _encode_protected(self, pairs: list[tuple[str, str]]) -> list[int]:
        """Chat ids where the template's special tokens are special and contents are text.

        The template is rendered with a unique marker in place of each content, so its own
        special tokens are found without any guessing; the contents are then put back as
        plain text (verbatim, even if the template would have trimmed them). The tokenizer
        itself splits text at special tokens before anything else, so encoding the text runs
        between the template's specials one by one gives the ids of the whole text, except
        that look-alikes inside contents stay plain text.
        """
        marks = {f"RAINGUARDMSG{uuid.uuid4().hex}X{i}": c for i, (_, c) in enumerate(pairs)}
        text = self._render([(role, mark) for (role, _), mark in zip(pairs, marks, strict=True)])
        ids: list[int] = []
        run = ""  # plain text waiting to be encoded
        for chunk in re.split("(" + "|".join(marks) + ")", text):
            if chunk in marks:
                run += marks[chunk]
                continue
            cursor = 0
            for match in self._special_re.finditer(chunk):
                run += chunk[cursor : match.start()]
                ids += self.tokenize(run) if run else []
                ids.append(self.specials[match.group()])
                run, cursor = "", match.end()
            run += chunk[cursor:]
        return ids + (self.tokenize(run) if run else [])


def special_tokens(tokenizer: Any) -> dict[str, int]:
    """Text -> id of every special added token (those the tokenizer matches before BPE)."""
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    specials = {str(tok): int(i) for i, tok in decoder.items() if getattr(tok, "special", False)}
    for text in getattr(tokenizer, "all_special_tokens", []) or []:
        token_id = tokenizer.convert_tokens_to_ids(text)
        if isinstance(token_id, int):
            specials.setdefault(text, token_id)
    return specials


def stop_ids(tokenizer: Any, specials: dict[str, int], eos_ids: Iterable[Any]) -> frozenset[int]:
    """Ids that end an answer: the tokenizer's EOS, ``eos_ids`` and the end-of-turn specials.

    Each of ``eos_ids`` is an id, a list of ids or None (a config's ``eos_token_id``).
    """
    ids: set[int] = set()
    for source in (tokenizer.eos_token_id, *eos_ids):
        ids.update(_ints(source))
    ids.update(specials[text] for text in END_OF_TURN_TOKENS if text in specials)
    return frozenset(ids)


def _check_messages(messages: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    if not messages:
        raise PromptError("no messages to answer")
    pairs = []
    for message in messages:
        if not (isinstance(message, tuple | list) and len(message) == 2):
            raise PromptError(f"a message must be a (role, content) pair, got {message!r}")
        role, content = message
        if not isinstance(role, str) or not isinstance(content, str):
            raise PromptError(f"role and content must be strings, got {message!r}")
        pairs.append((role, content))
    return pairs


def _alternation(words: dict[str, int]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


def _ints(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return [int(v) for v in value]
    return [int(value)]


class ChatFormatText:
    """The text side of the ``Backend`` protocol, answered by the engine's ``chat_format``.

    Both engines (``TransformersBackend``, ``OpenAICompletionsBackend``) tokenise locally
    through one ``ChatFormat``; this mixin gives them the same three methods.
    """

    chat_format: ChatFormat

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
