r"""build_rain_graph(): RAIN as a LangGraph state machine whose nodes are the paper's steps.

    START -> select -> expand -> evaluate -> backward -> (select | commit | END)
                   \-> evaluate (leaf cannot grow)        commit -> (select | END)

``build_resumable_rain_graph(checkpointer)`` wraps it for long generations that must survive a
crash: an outer graph whose one looping node, ``search_commit``, runs the search above until
exactly one commit. A checkpointer on the outer graph therefore saves once per commit (the
tree with its embeddings is too big to save after each of the ~4 super-steps of an
iteration), and a killed run resumes from its last commit.

The graph is what runs: ``rain_guard.generation.rain_generate`` and ``ChatRAIN`` invoke it.
State holds only data (token ids, the SearchTree's lists, counters); the model, evaluator and
embedder travel in the run context (``RainContext``), so state stays serialisable for
checkpointers and no tensor or KV cache ever enters it.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer

from rain_guard.backends.base import (
    Backend,
    ProposalRequest,
    propose_and_roll_out,
    rollout_kwargs,
)
from rain_guard.judging.evaluator import Evaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import Embedder
from rain_guard.search import steps as search
from rain_guard.search.tree import ROOT, SearchTree
from rain_guard.seeds import draw_seed

StopReason = Literal["eos", "stop", "length", "context", "time_budget", "token_budget", "exhausted"]


class RainState(TypedDict, total=False):
    """Data of one RAIN generation (everything a checkpointer needs to resume it).

    Keys:
        prompt_ids: Chat prompt ids (with the generation prompt).
        question: The request as the evaluator sees it ({prompt} of the criterion).
        answer_ids: Committed answer ids.
        tree: The search tree under the committed text.
        leaf: Node chosen by the last ``select``.
        score: Evaluation score of the last leaf, in [-1, 1].
        path_embeddings: Embeddings of the evaluated text per path node (similarity update).
        rollout: The expanded leaf's roll-out ids, drawn by ``expand`` for ``evaluate``
            (None when ``evaluate`` must draw it: the leaf was not expanded).
        iterations: Inner iterations in this answer.
        rewinds: Iterations that backed up instead of extending the previous leaf.
        commits: One record per commit (tokens, text, value, visits, iterations).
        stop_reason: Why generation ended (None while running).
        started_at: Unix time of the first step (seconds), for the wall-time budget.
        model_tokens_at_start: Backend token counter at the start, for the token budget.
    """

    prompt_ids: list[int]
    question: str
    answer_ids: list[int]
    tree: SearchTree
    leaf: int
    score: float
    path_embeddings: list[list[float]] | None
    rollout: list[int] | None
    iterations: int
    rewinds: int
    commits: list[dict[str, Any]]
    stop_reason: StopReason | None
    started_at: float
    model_tokens_at_start: int


@dataclass
class RainContext:
    """Run-scoped handles (never checkpointed).

    Attributes:
        backend: The generating model.
        evaluator: Scores partial answers (self-evaluation by default).
        config: Search settings.
        embedder: Sentence encoder for the similarity update; None switches it off.
        stop: Stop strings; generation ends after the commit that contains one.
        stop_after_commit: End the run right after one commit (used by the resumable graph,
            which checkpoints between commits); the state is then ready for the next one.
    """

    backend: Backend
    evaluator: Evaluator
    config: SearchConfig = field(default_factory=SearchConfig)
    embedder: Embedder | None = None
    stop: tuple[str, ...] = ()
    stop_after_commit: bool = False


def initial_state(prompt_ids: list[int], question: str, backend: Backend) -> RainState:
    """State before the first step: an empty answer and a one-node tree."""
    return RainState(
        prompt_ids=list(prompt_ids),
        question=question,
        answer_ids=[],
        tree=SearchTree(),
        leaf=ROOT,
        score=0.0,
        path_embeddings=None,
        rollout=None,
        iterations=0,
        rewinds=0,
        commits=[],
        stop_reason=None,
        started_at=time.time(),
        model_tokens_at_start=backend.counters.tokens_processed,
    )


# --- nodes -------------------------------------------------------------------------------


def select_node(state: RainState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Forward: walk to a leaf, adding children where dynamic node addition asks for them."""
    ctx, tree = runtime.context, state["tree"]

    def add_children(node: int, num: int = 2, salt: int | None = None) -> None:
        known = frozenset(tree.tokens[k] for k in tree.children[node])
        salt = len(tree) if salt is None else salt
        request = _proposal(state, ctx, node, num=num, salt=salt, exclude=known)
        search.expand(tree, node, ctx.backend.propose([request])[0], ctx.config, _stops(ctx))

    def widen(node: int) -> None:
        add_children(node, num=ctx.config.num_candidates - 1, salt=-1 - len(tree))

    leaf = search.select(tree, ctx.config, add_children, widen)
    previous = state.get("leaf", ROOT)
    backed_up = state["iterations"] > 0 and previous not in (leaf, *tree.path(leaf))
    return {"tree": tree, "leaf": leaf, "rewinds": state["rewinds"] + int(backed_up)}


def expand_node(state: RainState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Expand: propose q candidate token sets at the leaf and attach them.

    The leaf's roll-out (which ``evaluate`` needs next) is drawn in the same batched walk
    where the backend can (``propose_and_roll_out``) and handed over in ``rollout``. With the
    adaptive budget's greedy first, only the greedy set is proposed here; ``select`` widens
    the node to q sets if that one is judged not clearly good.
    """
    ctx, tree, leaf, config = runtime.context, state["tree"], state["leaf"], runtime.context.config
    num = 1 if search.greedy_first(config) else config.num_candidates
    request = _proposal(state, ctx, leaf, num=num, salt=0)
    candidates, rollout = propose_and_roll_out(
        ctx.backend, request, **_rollout_settings(state, config)
    )
    search.expand(tree, leaf, candidates, config, _stops(ctx))
    return {"tree": tree, "rollout": rollout}


def evaluate_node(state: RainState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Evaluate: roll the leaf's text out to a sentence boundary and score it."""
    ctx, tree, leaf = runtime.context, state["tree"], state["leaf"]
    backend, config = ctx.backend, ctx.config
    path_ids = tree.path_tokens(leaf)
    rollout = state.get("rollout")  # drawn by expand, if it ran
    if rollout is None:
        rollout = []
        if not tree.terminal[leaf] and config.rollout_max_tokens > 0:
            prefix = state["prompt_ids"] + state["answer_ids"] + path_ids
            rollout = backend.rollout([prefix], **_rollout_settings(state, config))[0]
    text = backend.detokenize(state["answer_ids"] + path_ids + rollout)
    score = ctx.evaluator.score(state["question"], [text])[0]
    tree.score[leaf] = score
    embeddings = _embed_path(ctx, tree, leaf, rollout)
    return {"tree": tree, "score": score, "path_embeddings": embeddings, "rollout": None}


def _rollout_settings(state: RainState, config: SearchConfig) -> dict[str, Any]:
    """Keyword arguments of this iteration's roll-out, seeded by the iteration.

    Temperature 0 (greedy) under the adaptive budget's greedy roll-outs.
    """
    seed = draw_seed(config.seed, state["iterations"], 1)
    temperature = 0.0 if search.greedy_rollout(config) else config.temperature
    return rollout_kwargs(config.sentence_boundaries, config.rollout_max_tokens, seed, temperature)


def backward_node(state: RainState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Backward (rewind): back the score up the path and into similar siblings."""
    ctx, tree = runtime.context, state["tree"]
    search.backward(tree, state["leaf"], state["score"], ctx.config, state["path_embeddings"])
    iterations = state["iterations"] + 1
    runtime.stream_writer(
        {
            "event": "iteration",
            "iteration": iterations,
            "score": state["score"],
            "depth": len(tree.path(state["leaf"])),
            "root_visits": tree.real_visits[ROOT],
        }
    )
    update: dict[str, Any] = {"tree": tree, "iterations": iterations}
    stop = _budget_stop(state, ctx)
    if stop is None and tree.is_leaf(ROOT):
        stop = "exhausted"  # the model proposed nothing to search over
    if stop is not None:
        update["stop_reason"] = stop
    return update


def commit_node(state: RainState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Commit: append the most-visited root child's tokens and keep its subtree."""
    ctx, tree = runtime.context, state["tree"]
    new_tree, best = search.commit(tree, ctx.config)
    before = ctx.backend.detokenize(state["answer_ids"])
    answer = state["answer_ids"] + list(tree.tokens[best])
    answer, stop = _apply_stops(ctx, state["prompt_ids"], answer)
    record = {
        "tokens": list(tree.tokens[best]),
        "text": ctx.backend.detokenize(answer)[len(before) :],
        "value": tree.value[best],
        "visits": tree.visits[best],
        "iterations": state["iterations"] - sum(c["iterations"] for c in state["commits"]),
        "greedy": best == tree.children[ROOT][0],
        "chosen": tree.children[ROOT].index(best),
        "alternatives": _alternatives(ctx, tree),
    }
    runtime.stream_writer({"event": "commit", **record, "answer_tokens": len(answer)})
    return {
        "tree": new_tree,
        "leaf": ROOT,
        "answer_ids": answer,
        "commits": [*state["commits"], record],
        "stop_reason": stop,
    }


# --- routers -----------------------------------------------------------------------------


def route_after_select(
    state: RainState, runtime: Runtime[RainContext]
) -> Literal["expand", "evaluate"]:
    """Expand a leaf that can grow; evaluate a terminal or budget-capped leaf directly."""
    tree, leaf, config = state["tree"], state["leaf"], runtime.context.config
    used = len(state["answer_ids"]) + len(tree.path_tokens(leaf))
    room = runtime.context.backend.context_length - len(state["prompt_ids"]) - used
    if tree.terminal[leaf] or used >= config.max_new_tokens or room <= 1:
        return "evaluate"
    return "expand"


def route_after_backward(
    state: RainState, runtime: Runtime[RainContext]
) -> Literal["select", "commit", "__end__"]:
    """Keep searching until the exit test holds, then commit; stop on a budget."""
    if state.get("stop_reason") is not None:
        return "__end__"
    if search.should_commit(state["tree"], runtime.context.config):
        return "commit"
    return "select"


def route_after_commit(
    state: RainState, runtime: Runtime[RainContext]
) -> Literal["select", "__end__"]:
    """Stop at EOS, a stop string or the token budget; otherwise search the next set.

    With ``stop_after_commit`` the run also ends here, so that a caller can save the state
    between commits; running the graph again from that state continues exactly as if it had
    gone on to ``select``.
    """
    if state.get("stop_reason") is not None or runtime.context.stop_after_commit:
        return "__end__"
    return "select"


def build_rain_graph(checkpointer: Checkpointer = None) -> CompiledStateGraph:
    """The compiled RAIN search graph (invoke with ``context=RainContext(...)``).

    Args:
        checkpointer: LangGraph's ``compile`` argument. None (default) inherits a parent
            graph's checkpointer; False never checkpoints, which the resumable graph uses so
            that only its per-commit state is saved.
    """
    graph = StateGraph(RainState, context_schema=RainContext)
    graph.add_node("select", select_node)
    graph.add_node("expand", expand_node)
    graph.add_node("evaluate", evaluate_node)
    graph.add_node("backward", backward_node)
    graph.add_node("commit", commit_node)
    graph.add_edge(START, "select")
    graph.add_conditional_edges("select", route_after_select)
    graph.add_edge("expand", "evaluate")
    graph.add_edge("evaluate", "backward")
    graph.add_conditional_edges(
        "backward", route_after_backward, {"select": "select", "commit": "commit", "__end__": END}
    )
    graph.add_conditional_edges("commit", route_after_commit, {"select": "select", "__end__": END})
    return graph.compile(checkpointer=checkpointer, name="rain_search")


def recursion_limit(config: SearchConfig) -> int:
    """Super-steps one answer may take: per commit at most t_max iterations of 4 steps, +1."""
    return config.max_new_tokens * (4 * config.t_max + 1) + 16


# --- helpers -----------------------------------------------------------------------------


def _stops(ctx: RainContext) -> frozenset[int]:
    return ctx.backend.stop_token_ids


def _proposal(
    state: RainState,
    ctx: RainContext,
    node: int,
    *,
    num: int,
    salt: int,
    exclude: frozenset[tuple[int, ...]] = frozenset(),
) -> ProposalRequest:
    tree, config = state["tree"], ctx.config
    prefix = state["prompt_ids"] + state["answer_ids"] + tree.path_tokens(node)
    budget = config.max_new_tokens - len(state["answer_ids"]) - len(tree.path_tokens(node))
    return ProposalRequest(
        prefix=tuple(prefix),
        num_candidates=num,
        length=max(1, min(config.set_length(tree.depth[node]), budget)),
        top_k=config.top_k,
        seed=draw_seed(config.seed, state["iterations"], node, salt, len(state["answer_ids"])),
        exclude=exclude,
        temperature=config.temperature,
    )


def _embed_path(
    ctx: RainContext, tree: SearchTree, leaf: int, rollout: list[int]
) -> list[list[float]] | None:
    """Embedding per path node of the text from that node's set to the end of the roll-out."""
    if ctx.embedder is None or not ctx.config.use_similarity:
        return None
    path = tree.path(leaf)
    if not path:
        return []
    texts, tail = [], list(rollout)
    for node in reversed(path):
        tail = list(tree.tokens[node]) + tail
        texts.append(ctx.backend.detokenize(tail))
    return ctx.embedder.embed(texts[::-1])


def _alternatives(ctx: RainContext, tree: SearchTree) -> list[dict[str, Any]]:
    """What the search weighed at this commit: every root child's text and statistics."""
    return [
        {
            "text": ctx.backend.detokenize(tree.tokens[k]),
            "visits": tree.visits[k],
            "value": tree.value[k],
            "prior": tree.prior[k],
            "score": tree.score[k],
        }
        for k in tree.children[ROOT]
    ]


def _apply_stops(
    ctx: RainContext, prompt_ids: list[int], answer: list[int]
) -> tuple[list[int], StopReason | None]:
    """Cut the answer at a stop id or the budget and say why generation must end, if it must."""
    config, stops = ctx.config, ctx.backend.stop_token_ids
    for i, tok in enumerate(answer):
        if tok in stops:
            return answer[:i], "eos"
    if ctx.stop and any(s in ctx.backend.detokenize(answer) for s in ctx.stop):
        return answer, "stop"
    if len(answer) >= config.max_new_tokens:
        return answer[: config.max_new_tokens], "length"
    if len(prompt_ids) + len(answer) >= ctx.backend.context_length - 1:
        return answer, "context"
    return answer, None


def _budget_stop(state: RainState, ctx: RainContext) -> StopReason | None:
    config = ctx.config
    if config.max_seconds is not None and time.time() - state["started_at"] >= config.max_seconds:
        return "time_budget"
    if config.max_model_tokens is not None:
        used = ctx.backend.counters.tokens_processed - state["model_tokens_at_start"]
        if used >= config.max_model_tokens:
            return "token_budget"
    return None


# --- resumable generation: one checkpoint per commit ---------------------------------------

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

    After a commit the search graph goes on with ``leaf`` at the root; the last score and
    path embeddings are overwritten before they are read again, so they are not saved.
    Budget baselines are set back by what earlier steps (and processes) already used.
    """
    return RainState(
        prompt_ids=list(state["prompt_ids"]),
        question=state["question"],
        answer_ids=list(state["answer_ids"]),
        tree=SearchTree.from_dict(state["tree"]),
        leaf=ROOT,
        score=0.0,
        path_embeddings=None,
        rollout=None,
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
    final = search_state(state, ctx.backend)
    run_config = {"recursion_limit": commit_recursion_limit(ctx.config)}
    for mode, payload in _commit_graph().stream(
        final,
        run_config,
        context=ctx,
        stream_mode=["values", "custom"],
        durability="exit",  # never inherit the outer "sync": this graph has no checkpointer
    ):
        if mode == "custom":
            runtime.stream_writer(payload)
        else:
            final = payload
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


def commit_recursion_limit(config: SearchConfig) -> int:
    """Super-steps of one commit: at most t_max iterations of 4 steps, the commit, slack."""
    return 4 * config.t_max + 16


def resumable_recursion_limit(config: SearchConfig) -> int:
    """Steps of the resumable graph: one per commit (each adds a token), plus slack."""
    return config.max_new_tokens + 16
