"""rain_generate / vanilla_generate: one answer from a backend, with RAIN or without.

These functions are the plain-Python face of the search graph: they build the initial state
and the run context, run ``build_rain_graph()`` with a recursion limit derived from the budget,
and return a ``GenerationResult`` with the text, the statistics and the work counters.

With a LangGraph checkpointer (``rain_generate(..., checkpointer=, thread_id=)``) a generation
is saved after every commit and a killed run continues from its last commit
(``resume_rain``, or the same ``rain_generate`` call again).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from rain_guard.backends.base import Backend
from rain_guard.errors import ConfigError, PromptError, ResumeError
from rain_guard.judging.criteria import Criterion
from rain_guard.judging.evaluator import Evaluator
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.messages import clean_text
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import Embedder
from rain_guard.search.graph import (
    GenerationState,
    RainContext,
    RainState,
    build_rain_graph,
    build_resumable_rain_graph,
    initial_generation_state,
    initial_state,
    recursion_limit,
    resumable_recursion_limit,
    resume_settings,
    search_state,
)

Messages = Sequence[tuple[str, str]]


@dataclass
class GenerationResult:
    """One answer and what it cost.

    Attributes:
        text: The answer (cut before a stop string if one occurred).
        token_ids: Committed answer ids.
        stop_reason: "eos", "stop", "length", "context", "time_budget", "token_budget",
            "exhausted" (see ``rain_guard.graph``), or "vanilla-*" for vanilla decoding.
        iterations: Inner search iterations (0 for vanilla).
        rewinds: Iterations that backed up to try another branch.
        commits: Per-commit records (tokens, text, value, visits, iterations, greedy).
        seconds: Wall time of the whole answer.
        counters: Backend work (forward calls, tokens processed, evaluations, cache hits).
        prompt_tokens: Length of the chat prompt in tokens.
        state: Final graph state (the tree is there for traces); None for vanilla.
        resumed_commits: Commits loaded from a checkpoint rather than searched by this call
            (0 unless a checkpointed generation was resumed).
    """

    text: str
    token_ids: list[int]
    stop_reason: str
    iterations: int = 0
    rewinds: int = 0
    commits: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    state: RainState | None = None
    resumed_commits: int = 0

    @property
    def final_value(self) -> float | None:
        """Value of the last committed set, in [-1, 1]."""
        return self.commits[-1]["value"] if self.commits else None


@cache
def rain_graph() -> CompiledStateGraph:
    """The compiled search graph, built once per process (it holds no per-run data)."""
    return build_rain_graph()


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
    criterion: str | Criterion = "harmless",
    config: SearchConfig | None = None,
    evaluator: Evaluator | None = None,
    embedder: Embedder | None = None,
    stop: Sequence[str] = (),
) -> RainContext:
    """Run context with defaults: self-evaluation on ``criterion``; no embedder unless given.

    ``stop`` may be one string or several; empty strings are dropped (they would match
    everywhere and end the answer after its first commit).

    Raises:
        ConfigError: ``stop`` holds something other than strings.
        CriterionError: an unknown criterion, or labels that are not one token each.
    """
    return RainContext(
        backend=backend,
        evaluator=evaluator or SelfEvaluator(backend, criterion),
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


def rain_generate(
    backend: Backend,
    messages: Messages,
    *,
    context: RainContext | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    checkpointer: Checkpointer = None,
    thread_id: str | None = None,
    **context_kwargs: Any,
) -> GenerationResult:
    """Answer ``messages`` with RAIN.

    Args:
        backend: The generating model.
        messages: ``(role, content)`` pairs; roles "system", "user", "assistant".
        context: A ready ``RainContext``; otherwise built by ``make_context(**context_kwargs)``.
        on_event: Called with every progress event (iterations and commits).
        checkpointer: A LangGraph checkpointer (e.g. ``SqliteSaver``): the generation is saved
            after every commit under ``thread_id``. If that thread already holds a checkpoint
            of this generation, it is resumed (see ``resume_rain``) instead of restarted.
        thread_id: The checkpoint thread; required with ``checkpointer``.
        **context_kwargs: ``make_context`` arguments (criterion, config, evaluator, embedder,
            stop) when ``context`` is not given.

    Raises:
        PromptError: bad or empty messages, or a prompt too long for the model.
        ConfigError: a checkpointer without a thread_id.
        ResumeError: the thread holds a checkpoint of another prompt, settings or model.
    """
    ctx = context or make_context(backend, **context_kwargs)
    if checkpointer is not None:
        return _run_checkpointed(ctx, messages, checkpointer, thread_id, on_event, resume=False)
    start = time.perf_counter()
    before = dict(backend.counters.snapshot())
    prompt_ids, question = prepare_prompt(backend, messages, ctx.config)
    state: RainState | None = None
    for step in stream_search(ctx, prompt_ids, question, on_event=on_event):
        state = step
    assert state is not None
    return result_from_state(ctx, state, time.perf_counter() - start, before)


def stream_search(
    ctx: RainContext,
    prompt_ids: list[int],
    question: str,
    *,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[RainState]:
    """Run the graph, yielding the state after every super-step and reporting events."""
    graph = rain_graph()
    run_config = {"recursion_limit": recursion_limit(ctx.config)}
    inputs = initial_state(prompt_ids, question, ctx.backend)
    for mode, payload in graph.stream(
        inputs, run_config, context=ctx, stream_mode=["values", "custom"]
    ):
        if mode == "custom":
            if on_event is not None:
                on_event(payload)
        else:
            yield payload


def resume_rain(
    backend: Backend,
    messages: Messages,
    *,
    checkpointer: Checkpointer,
    thread_id: str,
    context: RainContext | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    **context_kwargs: Any,
) -> GenerationResult:
    """Continue a checkpointed generation from its last saved commit.

    Pass the same messages and settings as the interrupted ``rain_generate`` call; only the
    budgets (``max_seconds``, ``max_model_tokens``) may differ. Committed token sets are not
    searched again (``GenerationResult.resumed_commits`` counts them); the answer equals an
    uninterrupted run with the same seed. A finished generation is returned as saved.

    Raises:
        ResumeError: no checkpoint under ``thread_id``, or one of another prompt, settings
            or model.
    """
    ctx = context or make_context(backend, **context_kwargs)
    return _run_checkpointed(ctx, messages, checkpointer, thread_id, on_event, resume=True)


def _run_checkpointed(
    ctx: RainContext,
    messages: Messages,
    checkpointer: Checkpointer,
    thread_id: str | None,
    on_event: Callable[[dict[str, Any]], None] | None,
    *,
    resume: bool,
) -> GenerationResult:
    """Run (or resume) the resumable graph on ``thread_id``, saving after every commit."""
    if not thread_id:
        raise ConfigError("a checkpointed generation needs a thread_id to save it under")
    start = time.perf_counter()
    before = dict(ctx.backend.counters.snapshot())
    prompt_ids, question = prepare_prompt(ctx.backend, messages, ctx.config)
    graph = build_resumable_rain_graph(checkpointer)
    run_config = {
        "configurable": {"thread_id": thread_id},
        "recursion_limit": resumable_recursion_limit(ctx.config),
    }
    saved = graph.get_state(run_config)
    if saved.values:
        _check_resumable(saved.values, prompt_ids, ctx, thread_id)
        inputs: GenerationState | None = None
        resumed, state = len(saved.values["commits"]), saved.values
    elif resume:
        raise ResumeError(f"no checkpoint to resume under thread_id {thread_id!r}")
    else:
        inputs, resumed = initial_generation_state(prompt_ids, question, ctx), 0
        state = inputs
    if inputs is not None or saved.next:
        for mode, payload in graph.stream(
            inputs,
            run_config,
            context=ctx,
            stream_mode=["values", "custom"],
            durability="sync",  # a commit is on disk before the next search starts
        ):
            if mode == "custom":
                if on_event is not None:
                    on_event(payload)
            else:
                state = payload
    final = search_state(state, ctx.backend)
    result = result_from_state(ctx, final, time.perf_counter() - start, before)
    result.resumed_commits = resumed
    return result


def _check_resumable(
    saved: GenerationState, prompt_ids: list[int], ctx: RainContext, thread_id: str
) -> None:
    """Refuse to resume a checkpoint made for another prompt, other settings or model."""
    where = f"checkpoint thread {thread_id!r}"
    if list(saved.get("prompt_ids", [])) != list(prompt_ids):
        raise ResumeError(f"{where} holds a generation for another prompt")
    if saved.get("model_name") != str(ctx.backend.model_name):
        raise ResumeError(
            f"{where} was made with model {saved.get('model_name')!r}, "
            f"not {ctx.backend.model_name!r}"
        )
    now = resume_settings(ctx.config)
    old = saved.get("settings", {})
    changed = sorted(k for k in now.keys() | old.keys() if now.get(k) != old.get(k))
    if changed:
        raise ResumeError(
            f"{where} was made with other settings ({', '.join(changed)}); only the budgets "
            "max_seconds and max_model_tokens may change on resume"
        )


def result_from_state(
    ctx: RainContext, state: RainState, seconds: float, counters_before: dict[str, int]
) -> GenerationResult:
    """Package a finished (or budget-stopped) graph state."""
    text = cut_at_stop(ctx.backend.detokenize(state["answer_ids"]), ctx.stop)
    return GenerationResult(
        text=text,
        token_ids=list(state["answer_ids"]),
        stop_reason=state.get("stop_reason") or "length",
        iterations=state["iterations"],
        rewinds=state["rewinds"],
        commits=list(state["commits"]),
        seconds=seconds,
        counters=ctx.backend.counters.since(counters_before),
        prompt_tokens=len(state["prompt_ids"]),
        state=state,
    )


def vanilla_generate(
    backend: Backend,
    messages: Messages,
    *,
    max_new_tokens: int = 128,
    seed: int | None = None,
    stop: Sequence[str] = (),
) -> GenerationResult:
    """Plain decoding with the same backend (greedy unless ``seed`` is given), for comparison."""
    config = SearchConfig(max_new_tokens=max_new_tokens)
    start = time.perf_counter()
    before = dict(backend.counters.snapshot())
    prompt_ids, _ = prepare_prompt(backend, messages, config)
    room = backend.context_length - len(prompt_ids)
    ids = backend.generate(prompt_ids, max_new_tokens=min(max_new_tokens, room), seed=seed)
    reason = "vanilla-length" if len(ids) >= max_new_tokens else "vanilla-eos"
    return GenerationResult(
        text=cut_at_stop(backend.detokenize(ids), stop),
        token_ids=ids,
        stop_reason=reason,
        seconds=time.perf_counter() - start,
        counters=backend.counters.since(before),
        prompt_tokens=len(prompt_ids),
    )


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop string."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
