"""What a search starts from: the request's chat prompt, its run context, stop strings.

Plain strings and ids only: LangChain messages are turned into ``(role, content)`` turns by
``rain_guard.messages`` before they get here. ``prepare_node`` is the entry step of the search
graph built with ``from_prompt=True`` (the one LangGraph Studio runs): it turns a JSON input,
just a prompt, into the search's initial state.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any, NotRequired

from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from rain_guard.backends.base import Backend
from rain_guard.errors import ConfigError, PromptError
from rain_guard.judging.evaluator import Evaluator
from rain_guard.judging.resolve import criterion_evaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.context import RainContext
from rain_guard.search.embeddings import Embedder
from rain_guard.search.state import RainState, initial_state

Messages = Sequence[tuple[str, str]]
_KEEP_CONTROLS = {"\n", "\t", "\r"}


def prompt_turns(prompt: str, system: str | None = None) -> list[tuple[str, str]]:
    """The turns of one request: the system message if there is one, then the prompt."""
    return [*([("system", system)] if system else []), ("user", prompt)]


def clean_text(text: str) -> str:
    r"""``text`` without control characters and lone surrogates; newline, tab and CR kept.

    Why: a prompt may come from bytes decoded with ``errors="surrogateescape"`` (lone
    surrogates such as ``"\udcff"``, which cannot be encoded as UTF-8 and make tokenizers
    raise) or carry terminal escapes and NULs, which mean nothing to a chat model. Dropping
    them never fails; text decoded with ``errors="replace"`` keeps its U+FFFD characters,
    which are ordinary text. Applied to every message (``rain_guard.messages.to_turns``) and
    by ``prepare_prompt``, so all entry points see the same prompt.
    """
    return "".join(
        ch for ch in text if ch in _KEEP_CONTROLS or unicodedata.category(ch) not in ("Cc", "Cs")
    )


def prepare_prompt(
    backend: Backend, messages: Messages, config: SearchConfig
) -> tuple[list[int], str]:
    """Chat prompt ids and the evaluator's view of the request (the last user turn).

    Contents are cleaned like LangChain messages (``rain_guard.messages.clean_text``: control
    characters and lone surrogates dropped), so plain-Python callers get the same prompt.

    Raises:
        PromptError: messages that are not ``(role, content)`` string pairs, no user text,
            or a prompt that leaves no room for an answer.
    """
    messages = _checked_turns(messages)
    if not any(role == "user" and content.strip() for role, content in messages):
        raise PromptError("the prompt is empty: give at least one non-blank user message")
    question = next(content for role, content in reversed(messages) if role == "user")
    ids = backend.chat_prompt_ids(list(messages))
    room = backend.context_length - len(ids)
    if room < 2:
        raise PromptError(
            f"the prompt is {len(ids)} tokens; {backend.model_name} accepts "
            f"{backend.context_length} in all, which leaves no room for an answer"
        )
    return ids, question


def _checked_turns(messages: Messages) -> list[tuple[str, str]]:
    """``messages`` as cleaned ``(role, content)`` pairs; a PromptError names a bad item."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise PromptError(
            f"messages must be a list of (role, content) pairs, not {type(messages).__name__}"
        )
    turns = []
    for i, message in enumerate(messages):
        if not (isinstance(message, tuple | list) and len(message) == 2):
            raise PromptError(f"message {i} must be a (role, content) pair, got {message!r:.80}")
        role, content = message
        if not isinstance(role, str) or not isinstance(content, str):
            raise PromptError(
                f"message {i}: role and content must be strings, got "
                f"{type(role).__name__} and {type(content).__name__}"
            )
        turns.append((role, clean_text(content)))
    return turns


def make_context(
    backend: Backend,
    *,
    criterion: Any = None,
    config: SearchConfig | None = None,
    evaluator: Evaluator | None = None,
    embedder: Embedder | None = None,
    stop: Sequence[str] = (),
) -> RainContext:
    """Run context with defaults: the evaluator of ``criterion``; no embedder unless given.

    ``criterion`` None is the model's default judge (``judging.resolve``): the shipped harm
    classifier for the embedded SmolLM2, self-evaluation with "harmless" for other models.

    ``stop`` may be one string or several; empty strings are dropped (they would match
    everywhere and end the answer after its first commit).

    Raises:
        ConfigError: ``stop`` holds something other than strings.
        CriterionError: an unknown criterion, or labels that are not one token each.
    """
    return RainContext(
        backend=backend,
        evaluator=evaluator or criterion_evaluator(backend, criterion),
        config=config or SearchConfig(),
        embedder=embedder,
        stop=normalize_stop(stop),
    )


def normalize_stop(stop: str | Sequence[str] | None) -> tuple[str, ...]:
    """Stop strings as a tuple: a single string is one stop string, empty ones are dropped.

    Raises:
        ConfigError: an item is not a string.
    """
    if stop is None:
        return ()
    items = (stop,) if isinstance(stop, str) else tuple(stop)
    bad = [s for s in items if not isinstance(s, str)]
    if bad:
        raise ConfigError(f"stop strings must be str, got {bad[0]!r} ({type(bad[0]).__name__})")
    return tuple(s for s in items if s)


class PromptInput(TypedDict):
    """Input of the search graph built with ``from_prompt=True``.

    Keys:
        prompt: The request to answer.
        system: An optional system message.
    """

    prompt: str
    system: NotRequired[str]


def prepare_node(state: PromptInput, runtime: Runtime[RainContext]) -> RainState:
    """Start a new answer to ``prompt``: build missing handles, then the initial state.

    Raises:
        ConfigError: the graph was invoked without a run context.
        PromptError: no prompt, or one the model cannot answer (see ``prepare_prompt``).
    """
    ctx = runtime.context
    if ctx is None:
        raise ConfigError(
            "the search graph needs a run context: invoke it with context={} (the embedded "
            'model and the "harmless" criterion), a dict of RainContext fields such as '
            '{"model": "smollm2", "config": {"t_max": 8}}, or a RainContext'
        )
    prompt = state.get("prompt")
    if not isinstance(prompt, str):
        raise PromptError(f'the search graph\'s input needs {{"prompt": str}}, got {state!r:.80}')
    ctx.load_handles()
    turns = prompt_turns(prompt, state.get("system"))
    prompt_ids, question = prepare_prompt(ctx.backend, turns, ctx.config)
    return initial_state(prompt_ids, question, ctx.backend)
