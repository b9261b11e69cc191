"""rain_generate / vanilla_generate: one answer from a backend, with RAIN or without.

These functions are the plain-Python face of the search graph: they build the initial state
and the run context, run ``build_rain_graph()`` with a recursion limit derived from the budget,
and return a ``GenerationResult`` with the text, the statistics and the work counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from rain_guard.backends.base import Backend
from rain_guard.config import SearchConfig
from rain_guard.criteria import Criterion
from rain_guard.embeddings import Embedder
from rain_guard.errors import PromptError
from rain_guard.evaluators import Evaluator, SelfEvaluator
from rain_guard.graph import (
    RainContext,
    RainState,
    build_rain_graph,
    initial_state,
    recursion_limit,
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

    Raises:
        PromptError: no user text, or the prompt leaves no room for an answer.
    """
    if not messages or not any(role == "user" and content.strip() for role, content in messages):
        raise PromptError("the prompt is empty: give at least one non-blank user message")
    question = next(content for role, content in reversed(messages) if role == "user")
    ids = backend.chat_prompt_ids(list(messages))
    room = backend.context_length - len(ids)
    if room < 2:
        raise PromptError(
            f"the prompt is {len(ids)} tokens; {backend.model_name} accepts {backend.context_length}"
            " in all, which leaves no room for an answer"
        )
    return ids, question


def make_context(
    backend: Backend,
    *,
    criterion: str | Criterion = "harmless",
    config: SearchConfig | None = None,
    evaluator: Evaluator | None = None,
    embedder: Embedder | None = None,
    stop: Sequence[str] = (),
) -> RainContext:
    """Run context with defaults: self-evaluation on ``criterion``; no embedder unless given."""
    return RainContext(
        backend=backend,
        evaluator=evaluator or SelfEvaluator(backend, criterion),
        config=config or SearchConfig(),
        embedder=embedder,
        stop=tuple(stop),
    )


def rain_generate(
    backend: Backend,
    messages: Messages,
    *,
    context: RainContext | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    **context_kwargs: Any,
) -> GenerationResult:
    """Answer ``messages`` with RAIN.

    Args:
        backend: The generating model.
        messages: ``(role, content)`` pairs; roles "system", "user", "assistant".
        context: A ready ``RainContext``; otherwise built by ``make_context(**context_kwargs)``.
        on_event: Called with every progress event (iterations and commits).
    """
    ctx = context or make_context(backend, **context_kwargs)
    start = time.perf_counter()
    before = dict(backend.counters.snapshot())
    prompt_ids, question = prepare_prompt(backend, messages, ctx.config)
    state: RainState | None = None
    for state in stream_search(ctx, prompt_ids, question, on_event=on_event):
        pass
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
        counters=_delta(ctx.backend.counters.snapshot(), counters_before),
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
        counters=_delta(backend.counters.snapshot(), before),
        prompt_tokens=len(prompt_ids),
    )


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop string."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}
