"""rain_generate / vanilla_generate: one answer from a backend, with RAIN or without.

These functions are the plain-Python face of the search graph: they build the initial state
and the run context, run ``build_rain_graph()`` with a recursion limit derived from the budget,
and return a ``GenerationResult`` with the text, the statistics and the work counters.

With a LangGraph checkpointer (``rain_generate(..., checkpointer=, thread_id=)``) a generation
is saved after every commit and a killed run continues from its last commit
(``rain_guard.search.resume``: ``resume_rain``, or the same ``rain_generate`` call again).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from rain_guard.backends.base import Backend
from rain_guard.search.config import SearchConfig
from rain_guard.search.context import RainContext
from rain_guard.search.graph import build_rain_graph, recursion_limit
from rain_guard.search.inputs import (
    Messages,
    clean_text,
    make_context,
    normalize_stop,
    prepare_prompt,
    prompt_turns,
)
from rain_guard.search.result import GenerationResult, cut_at_stop, result_from_state
from rain_guard.search.resume import resume_rain, run_checkpointed
from rain_guard.search.state import RainState, initial_state
from rain_guard.search.stream import OnEvent, stream_graph

__all__ = [
    "GenerationResult",
    "Messages",
    "clean_text",
    "cut_at_stop",
    "make_context",
    "normalize_stop",
    "prepare_prompt",
    "prompt_turns",
    "rain_generate",
    "rain_graph",
    "result_from_state",
    "resume_rain",
    "stream_search",
    "vanilla_generate",
]


@cache
def rain_graph() -> CompiledStateGraph:
    """The compiled search graph, built once per process (it holds no per-run data)."""
    return build_rain_graph()


def rain_generate(
    backend: Backend,
    messages: Messages,
    *,
    context: RainContext | None = None,
    on_event: OnEvent | None = None,
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
        return run_checkpointed(ctx, messages, checkpointer, thread_id, on_event, resume=False)
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
    on_event: OnEvent | None = None,
) -> Iterator[RainState]:
    """Run the graph, yielding the state after every super-step and reporting events."""
    run_config = {"recursion_limit": recursion_limit(ctx.config)}
    inputs = initial_state(prompt_ids, question, ctx.backend)
    yield from stream_graph(rain_graph(), inputs, run_config, context=ctx, on_event=on_event)


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
