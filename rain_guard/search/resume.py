"""Resumable generation: a graph that a checkpointer saves once per commit.

``build_resumable_rain_graph(checkpointer)`` wraps the search graph for long generations
that must survive a crash: an outer graph whose one looping node, ``search_commit``, runs the
search until exactly one commit. A checkpointer on the outer graph therefore saves once per
commit (the tree with its embeddings is too big to save after each super-step of the search),
and a killed run resumes from its last commit (``resume_rain``).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace
from functools import cache
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer
from typing_extensions import TypedDict

from rain_guard.backends.base import Backend
from rain_guard.errors import ConfigError, ResumeError
from rain_guard.search.config import SearchConfig
from rain_guard.search.context import RainContext
from rain_guard.search.graph import build_rain_graph, recursion_limit
from rain_guard.search.inputs import Messages, make_context, prepare_prompt
from rain_guard.search.result import GenerationResult, result_from_state
from rain_guard.search.state import RainState, StopReason
from rain_guard.search.stream import OnEvent, last_state, stream_graph
from rain_guard.search.tree import ROOT, SearchTree

BUDGET_SETTINGS = frozenset({"max_seconds", "max_model_tokens"})
"""Settings a resumed run may change: budgets only (everything else steers the search)."""


class GenerationState(TypedDict, total=False):
    """State of the resumable graph: what a checkpointer saves after every commit.

    Keys:
        prompt_ids: Chat prompt ids (as in ``RainState``).
        question: The request as the evaluator sees it.
        answer_ids: Committed answer ids.
        tree: The search tree under the committed text as ``SearchTree.to_dict()``: plain
            lists, because LangGraph's serializer turns a dataclass's token tuples into lists.
        iterations: Inner iterations so far.
        rewinds: Iterations that backed up so far.
        commits: One record per commit.
        stop_reason: Why generation ended (None while running).
        seconds_used: Wall time of finished ``search_commit`` steps (for the time budget).
        model_tokens_used: Backend tokens processed by finished steps (for the token budget).
        settings: The run's SearchConfig without budgets (``resume_settings``); a resume with
            other settings would not give the uninterrupted answer, so it is refused.
        model_name: The backend's model name, checked on resume for the same reason.
    """

    prompt_ids: list[int]
    question: str
    answer_ids: list[int]
    tree: dict[str, Any]
    iterations: int
    rewinds: int
    commits: list[dict[str, Any]]
    stop_reason: StopReason | None
    seconds_used: float
    model_tokens_used: int
    settings: dict[str, Any]
    model_name: str


def resume_settings(config: SearchConfig) -> dict[str, Any]:
    """The settings a checkpoint must share with a run that resumes it (budgets excluded)."""
    return config.model_dump(mode="json", exclude=set(BUDGET_SETTINGS))


def initial_generation_state(
    prompt_ids: list[int], question: str, ctx: RainContext
) -> GenerationState:
    """State of a resumable generation before its first commit."""
    return GenerationState(
        prompt_ids=list(prompt_ids),
        question=question,
        answer_ids=[],
        tree=SearchTree().to_dict(),
        iterations=0,
        rewinds=0,
        commits=[],
        stop_reason=None,
        seconds_used=0.0,
        model_tokens_used=0,
        settings=resume_settings(ctx.config),
        model_name=str(ctx.backend.model_name),
    )


def search_state(state: GenerationState, backend: Backend) -> RainState:
    """The search graph's state that continues ``state``, as the search graph would have.

    After a commit the search graph goes on from the root; the last pass's leaves, scores
    and path embeddings are overwritten before they are read again, so they are not saved.
    Budget baselines are set back by what earlier steps (and processes) already used.
    """
    return RainState(
        prompt_ids=list(state["prompt_ids"]),
        question=state["question"],
        answer_ids=list(state["answer_ids"]),
        tree=SearchTree.from_dict(state["tree"]),
        leaves=[],
        scores=[],
        path_embeddings=[],
        rollouts=[],
        last_leaf=ROOT,
        iterations=state["iterations"],
        rewinds=state["rewinds"],
        commits=list(state["commits"]),
        stop_reason=state.get("stop_reason"),
        started_at=time.time() - state.get("seconds_used", 0.0),
        model_tokens_at_start=backend.counters.tokens_processed - state.get("model_tokens_used", 0),
    )


# The per-commit search must be run with durability="exit": it would otherwise inherit the
# outer graph's "sync", which LangGraph 1.2 cannot honour without a checkpointer (it fails on a
# missing checkpoint future). LangGraph then warns that durability has no effect: expected.
warnings.filterwarnings(
    "ignore", message="`durability` has no effect", category=UserWarning, module="langgraph"
)


@cache
def _commit_graph() -> CompiledStateGraph:
    """The search graph that never checkpoints (the outer graph saves once per commit)."""
    return build_rain_graph(checkpointer=False)


def search_commit_node(state: GenerationState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Search until exactly one commit (or the end: EOS, stop string, budget) and save it.

    Runs ``build_rain_graph`` with ``stop_after_commit`` and forwards its progress events.
    """
    ctx = replace(runtime.context, stop_after_commit=True)
    counters = ctx.backend.counters
    started, tokens_before = time.time(), counters.tokens_processed
    start = search_state(state, ctx.backend)
    run_config = {"recursion_limit": recursion_limit(ctx.config, commits=1)}
    states = stream_graph(
        _commit_graph(),
        start,
        run_config,
        context=ctx,
        on_event=runtime.stream_writer,
        durability="exit",  # never inherit the outer "sync": this graph has no checkpointer
    )
    final = last_state(states, start)
    return {
        "answer_ids": list(final["answer_ids"]),
        "tree": final["tree"].to_dict(),
        "iterations": final["iterations"],
        "rewinds": final["rewinds"],
        "commits": list(final["commits"]),
        "stop_reason": final.get("stop_reason"),
        "seconds_used": state.get("seconds_used", 0.0) + time.time() - started,
        "model_tokens_used": state.get("model_tokens_used", 0)
        + counters.tokens_processed
        - tokens_before,
    }


def route_after_search_commit(state: GenerationState) -> Literal["search_commit", "__end__"]:
    """Search for the next commit until generation has a stop reason."""
    return "__end__" if state.get("stop_reason") is not None else "search_commit"


def build_resumable_rain_graph(checkpointer: Checkpointer = None) -> CompiledStateGraph:
    """RAIN as a graph that a checkpointer saves once per commit, so a killed run resumes.

        START -> search_commit -> (search_commit | END)

    Invoke it with ``context=RainContext(...)``, a ``thread_id`` and
    ``initial_generation_state(...)``; after a crash, invoke it with ``None`` as input on the
    same thread to resume from the last saved commit. ``rain_guard.generation.rain_generate``
    (with ``checkpointer=``) and ``resume_rain`` do this and check that the settings match.

    Args:
        checkpointer: Where commits are saved, e.g. ``SqliteSaver``; None compiles without.
    """
    graph = StateGraph(GenerationState, context_schema=RainContext)
    graph.add_node("search_commit", search_commit_node)
    graph.add_edge(START, "search_commit")
    graph.add_conditional_edges(
        "search_commit",
        route_after_search_commit,
        {"search_commit": "search_commit", "__end__": END},
    )
    return graph.compile(checkpointer=checkpointer, name="rain_resumable")


def resumable_recursion_limit(config: SearchConfig) -> int:
    """Steps of the resumable graph: one per commit (each adds a token), plus slack."""
    return config.max_new_tokens + 16


def resume_rain(
    backend: Backend,
    messages: Messages,
    *,
    checkpointer: Checkpointer,
    thread_id: str,
    context: RainContext | None = None,
    on_event: OnEvent | None = None,
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
    return run_checkpointed(ctx, messages, checkpointer, thread_id, on_event, resume=True)


def run_checkpointed(
    ctx: RainContext,
    messages: Messages,
    checkpointer: Checkpointer,
    thread_id: str | None,
    on_event: OnEvent | None,
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
        states = stream_graph(
            graph,
            inputs,
            run_config,
            context=ctx,
            on_event=on_event,
            durability="sync",  # a commit is on disk before the next search starts
        )
        state = last_state(states, state)
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
    # a setting added after the checkpoint was saved counts as its default (which keeps
    # the search that checkpoint ran)
    old = {**resume_settings(SearchConfig()), **saved.get("settings", {})}
    changed = sorted(k for k in now.keys() | old.keys() if now.get(k) != old.get(k))
    if changed:
        raise ResumeError(
            f"{where} was made with other settings ({', '.join(changed)}); only the budgets "
            "max_seconds and max_model_tokens may change on resume"
        )
