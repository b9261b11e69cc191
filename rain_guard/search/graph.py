r"""build_rain_graph(): RAIN as a LangGraph state machine whose nodes are the paper's steps.

    START -> select -> expand -> evaluate -> backward -> (select | commit | END)
                   \-> evaluate (no leaf can grow)        commit -> (select | END)

One pass through select -> expand -> evaluate -> backward is one search iteration per
selected leaf. With ``SearchConfig.parallel_leaves`` k > 1, ``select`` picks up to k distinct
leaves (virtual losses steer each selection away from the paths already picked), ``expand``
proposes their candidates and roll-outs in one batched backend call, ``evaluate`` scores all
their drafts in one evaluator call, and ``backward`` backs every score up. k = 1 is RAIN as
published: one leaf per iteration.

The graph is what runs: ``rain_guard.search.run.rain_generate`` and ``ChatRAIN`` invoke it,
and ``rain_guard.search.resume`` wraps it for generations that checkpoint once per commit.
State holds only data (token ids, the SearchTree's lists, counters); the model, evaluator and
embedder travel in the run context (``RainContext``), so state stays serialisable for
checkpointers and no tensor or KV cache ever enters it.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer

from rain_guard.backends.base import (
    ProposalRequest,
    RolloutSpec,
    propose_and_roll_out_many,
    roll_out_many,
)
from rain_guard.backends.seeds import draw_seed
from rain_guard.judging.evaluator import checked_scores
from rain_guard.search import steps
from rain_guard.search.config import WHOLE_ANSWER_TOP_K, SearchConfig
from rain_guard.search.context import RainContext
from rain_guard.search.inputs import PromptInput, prepare_node
from rain_guard.search.state import RainState, StopReason
from rain_guard.search.tree import ROOT, SearchTree

# --- nodes -------------------------------------------------------------------------------


def select_node(state: RainState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Forward: walk to up to k distinct leaves (k = ``parallel_leaves``).

    The first walk of a pass adds children where dynamic node addition or greedy-first
    widening asks for them, exactly as RAIN's one-leaf iteration does. With
    ``graft_rollouts``, while the root's evaluated children are all valued alike and bad
    (``steps.children_alike``), the pass rolls out from the root itself k times instead:
    fresh openings, grafted where they lead. Later walks of the
    same pass see the earlier paths with a virtual loss and only choose among existing
    nodes; a pass ends early when a walk returns a leaf already chosen. A pass never takes
    the root past ``t_max`` evaluations.
    """
    ctx, tree, config = runtime.context, state["tree"], runtime.context.config
    room = config.t_max_at(len(state["commits"])) - tree.real_visits[ROOT]
    wanted = max(1, min(config.parallel_leaves, room))
    fresh = config.graft_rollouts and config.rollout_max_tokens > 0
    if fresh and steps.children_alike(tree, ROOT):
        return {"tree": tree, "leaves": [ROOT] * wanted}  # fresh roll-outs from the root
    leaves: list[int] = []
    losses = steps.VirtualLoss(tree)
    for i in range(wanted):
        grow = _growers(state, ctx, state["iterations"] + i) if i == 0 else (None, None)
        leaf = steps.select(tree, config, *grow)
        if leaf in leaves:
            break
        leaves.append(leaf)
        if i + 1 < wanted:
            losses.add(leaf)
    losses.restore()
    return {"tree": tree, "leaves": leaves}


def _growers(state: RainState, ctx: RainContext, iteration: int) -> tuple[Any, Any]:
    """``select``'s callbacks that add children (dynamic node addition, widening)."""
    tree = state["tree"]

    def add_children(node: int, num: int = 2, salt: int | None = None) -> None:
        known = frozenset(tree.tokens[k] for k in tree.children[node])
        salt = len(tree) if salt is None else salt
        request = _proposal(state, ctx, node, iteration, num=num, salt=salt, exclude=known)
        steps.expand(tree, node, ctx.backend.propose([request])[0], ctx.config, _stops(ctx))

    def widen(node: int) -> None:
        add_children(node, num=ctx.config.num_candidates - 1, salt=-1 - len(tree))

    return add_children, widen


def expand_node(state: RainState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Expand: propose q candidate token sets at every leaf that can grow and attach them.

    Each leaf's roll-out (which ``evaluate`` needs next) is drawn in the same batched walk
    where the backend can (``propose_and_roll_out_many``) and handed over in ``rollouts``.
    With the adaptive budget's greedy first, only the greedy set is proposed here; ``select``
    widens the node to q sets if that one is judged not clearly good.
    """
    ctx, tree, config = runtime.context, state["tree"], runtime.context.config
    num = 1 if steps.greedy_first(config) else config.num_candidates
    growing = [i for i, leaf in enumerate(state["leaves"]) if _can_grow(state, ctx, leaf)]
    requests = [
        _proposal(state, ctx, state["leaves"][i], state["iterations"] + i, num=num, salt=0)
        for i in growing
    ]
    specs = [
        _rollout_spec(state, ctx, state["leaves"][i], state["iterations"] + i) for i in growing
    ]
    drawn = propose_and_roll_out_many(ctx.backend, requests, specs)
    rollouts: list[list[int] | None] = [None] * len(state["leaves"])
    for i, (candidates, rollout) in zip(growing, drawn, strict=True):
        steps.expand(tree, state["leaves"][i], candidates, config, _stops(ctx))
        rollouts[i] = rollout
    return {"tree": tree, "rollouts": rollouts}


def evaluate_node(state: RainState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Evaluate: roll each leaf's text out (to a sentence boundary) and score all in one call.

    With ``graft_rollouts`` each roll-out is first kept in the tree as a chain of token sets
    below its leaf (``steps.graft``), and the score is backed up from the chain's end.
    """
    ctx, tree = runtime.context, state["tree"]
    leaves = state["leaves"]
    rollouts = _rollouts(state, ctx)
    if ctx.config.graft_rollouts:
        leaves, rollouts = _graft(state, ctx, leaves, rollouts)
    texts = [
        ctx.backend.detokenize(state["answer_ids"] + tree.path_tokens(leaf) + rollout)
        for leaf, rollout in zip(leaves, rollouts, strict=True)
    ]
    scores = checked_scores(ctx.evaluator, state["question"], texts)
    for leaf, score in zip(leaves, scores, strict=True):
        best = tree.score[leaf] if ctx.config.graft_rollouts else None
        tree.score[leaf] = score if best is None else max(best, score)
    embeddings = _embed_paths(ctx, tree, leaves, rollouts)
    return {
        "tree": tree,
        "leaves": leaves,
        "scores": scores,
        "path_embeddings": embeddings,
        "rollouts": [],
    }


def _graft(
    state: RainState, ctx: RainContext, leaves: list[int], rollouts: list[list[int]]
) -> tuple[list[int], list[list[int]]]:
    """``steps.graft`` for every leaf: the nodes to back up from and their roll-outs' rests."""
    tree, config = state["tree"], ctx.config
    used = len(state["answer_ids"])
    grafted = [
        steps.graft(
            tree,
            leaf,
            rollout,
            config,
            _stops(ctx),
            config.max_new_tokens - used - len(tree.path_tokens(leaf)),
        )
        for leaf, rollout in zip(leaves, rollouts, strict=True)
    ]
    return [node for node, _ in grafted], [rest for _, rest in grafted]


def _rollouts(state: RainState, ctx: RainContext) -> list[list[int]]:
    """Each leaf's roll-out: drawn by ``expand``, else drawn here, all in one batched walk.

    Terminal leaves get none.
    """
    tree, config, leaves = state["tree"], ctx.config, state["leaves"]
    rollouts = list(state.get("rollouts") or [None] * len(leaves))
    todo = [
        i
        for i, (leaf, rollout) in enumerate(zip(leaves, rollouts, strict=True))
        if rollout is None and not tree.terminal[leaf] and config.rollout_max_tokens > 0
    ]
    fresh = [i for i in todo if _rolled_afresh(state, ctx, leaves[i])]
    if fresh:
        answers = _whole_answers(state, ctx, len(fresh), state["iterations"] + fresh[0])
        for i, drawn in zip(fresh, answers, strict=False):
            rollouts[i] = drawn
        todo = [i for i in todo if rollouts[i] is None]  # a short draw: plain roll-outs
    base = state["prompt_ids"] + state["answer_ids"]
    prefixes = [base + tree.path_tokens(leaves[i]) for i in todo]
    specs = [_rollout_spec(state, ctx, leaves[i], state["iterations"] + i) for i in todo]
    for i, drawn in zip(todo, roll_out_many(ctx.backend, prefixes, specs), strict=True):
        rollouts[i] = drawn
    return [rollout or [] for rollout in rollouts]


def _rolled_afresh(state: RainState, ctx: RainContext, leaf: int) -> bool:
    """``leaf`` is the root, chosen for fresh whole answers (``graft_rollouts``)."""
    return ctx.config.graft_rollouts and leaf == ROOT and not state["tree"].is_leaf(ROOT)


def _whole_answers(
    state: RainState, ctx: RainContext, count: int, iteration: int
) -> list[list[int]]:
    """Up to ``count`` fresh whole answers from the root, drawn as best-of-N draws them.

    Distinct answers to the end of the answer budget, sampled from the top
    ``WHOLE_ANSWER_TOP_K`` tokens per step at the config's temperature, so that a search
    whose judge finds nothing to follow searches as best-of-N does. The greedy answer, which
    ``propose`` returns first, is left out: the search's greedy path already judges it, and
    every pass would draw it again. Fewer than ``count`` come back when the pool runs dry.
    """
    spec = _rollout_spec(state, ctx, ROOT, iteration)
    if spec.max_tokens == 0:
        return []
    request = ProposalRequest(
        prefix=tuple(state["prompt_ids"] + state["answer_ids"]),
        num_candidates=count + 1,
        length=spec.max_tokens,
        top_k=WHOLE_ANSWER_TOP_K,
        seed=spec.seed,
        temperature=spec.temperature,
    )
    return [list(c.tokens) for c in ctx.backend.propose([request])[0][1:]]


def _rollout_spec(state: RainState, ctx: RainContext, leaf: int, iteration: int) -> RolloutSpec:
    """The roll-out settings of ``leaf`` in an iteration, seeded by the iteration.

    To the next sentence boundary, at most ``rollout_max_tokens``; temperature 0 (greedy)
    under the adaptive budget's greedy roll-outs. With ``graft_rollouts``, a root rolled out
    afresh (its children all valued alike, see ``select_node``) is rolled out to the end of
    the answer budget: a whole answer, drawn (``_whole_answers``) and judged as best-of-N
    draws and judges it, and grafted whole.
    """
    config = ctx.config
    temperature = 0.0 if steps.greedy_rollout(config) else config.temperature
    boundaries, max_tokens = _boundaries(state, ctx, leaf), config.rollout_max_tokens
    if _rolled_afresh(state, ctx, leaf):
        used = len(state["prompt_ids"]) + len(state["answer_ids"])
        room = ctx.backend.context_length - used - 1
        boundaries, temperature = "", config.temperature  # sampled, even under greedy-first
        max_tokens = max(0, min(config.max_new_tokens - len(state["answer_ids"]), room))
    return RolloutSpec(
        boundaries=boundaries,
        max_tokens=max_tokens,
        seed=draw_seed(config.seed, iteration, 1),
        temperature=temperature,
    )


def _boundaries(state: RainState, ctx: RainContext, leaf: int) -> str:
    """The roll-out boundaries of ``leaf``: the config's, but see below for grafting.

    A roll-out ends at once on a prefix that already ends at a boundary, and a chat prompt
    ends with one (the newline after the assistant header), so at the answer's start RAIN
    judges an empty draft. With ``graft_rollouts`` the roll-outs there are the fresh openings
    the search grafts, so the prompt's closing character is not a boundary for them.
    """
    boundaries = ctx.config.sentence_boundaries
    at_start = not state["answer_ids"] and not state["tree"].path_tokens(leaf)
    if not (ctx.config.graft_rollouts and at_start and state["prompt_ids"]):
        return boundaries
    closing = ctx.backend.detokenize(state["prompt_ids"][-1:])[-1:]
    return boundaries.replace(closing, "") if closing else boundaries


def backward_node(state: RainState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Backward (rewind): back each leaf's score up its path and into similar siblings."""
    ctx, tree = runtime.context, state["tree"]
    iterations, rewinds, previous = state["iterations"], state["rewinds"], state["last_leaf"]
    embeddings = state["path_embeddings"]
    for leaf, score, path_embeddings in zip(
        state["leaves"], state["scores"], embeddings, strict=True
    ):
        steps.backward(tree, leaf, score, ctx.config, path_embeddings)
        rewinds += int(iterations > 0 and previous not in (leaf, *tree.path(leaf)))
        iterations, previous = iterations + 1, leaf
        runtime.stream_writer(
            {
                "event": "iteration",
                "iteration": iterations,
                "score": score,
                "depth": len(tree.path(leaf)),
                "root_visits": tree.real_visits[ROOT],
            }
        )
    update: dict[str, Any] = {
        "tree": tree,
        "iterations": iterations,
        "rewinds": rewinds,
        "last_leaf": previous,
    }
    stop = _budget_stop(state, ctx)
    if stop is None and tree.is_leaf(ROOT):
        stop = "exhausted"  # the model proposed nothing to search over
    if stop is not None:
        update["stop_reason"] = stop
    return update


def commit_node(state: RainState, runtime: Runtime[RainContext]) -> dict[str, Any]:
    """Commit: append the chosen root child's tokens (``steps.chosen_child``), keep its subtree."""
    ctx, tree = runtime.context, state["tree"]
    new_tree, best = steps.commit(tree, ctx.config)
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
        "last_leaf": ROOT,
        "answer_ids": answer,
        "commits": [*state["commits"], record],
        "stop_reason": stop,
    }


# --- routers -----------------------------------------------------------------------------


def route_after_select(
    state: RainState, runtime: Runtime[RainContext]
) -> Literal["expand", "evaluate"]:
    """Expand when a leaf can grow; evaluate terminal or budget-capped leaves directly."""
    if any(_can_grow(state, runtime.context, leaf) for leaf in state["leaves"]):
        return "expand"
    return "evaluate"


def _can_grow(state: RainState, ctx: RainContext, leaf: int) -> bool:
    """A leaf can be expanded: not terminal, within the answer budget and the context."""
    tree, config = state["tree"], ctx.config
    used = len(state["answer_ids"]) + len(tree.path_tokens(leaf))
    room = ctx.backend.context_length - len(state["prompt_ids"]) - used
    fresh = tree.is_leaf(leaf)  # a root rolled out afresh (graft_rollouts) is not expanded
    return fresh and not tree.terminal[leaf] and used < config.max_new_tokens and room > 1


def route_after_backward(
    state: RainState, runtime: Runtime[RainContext]
) -> Literal["select", "commit", "__end__"]:
    """Keep searching until the exit test holds, then commit; stop on a budget."""
    if state.get("stop_reason") is not None:
        return "__end__"
    if steps.should_commit(state["tree"], runtime.context.config, len(state["commits"])):
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


def build_rain_graph(
    checkpointer: Checkpointer = None, *, from_prompt: bool = False
) -> CompiledStateGraph:
    """The compiled RAIN search graph (invoke with ``context=RainContext(...)``).

    Args:
        checkpointer: LangGraph's ``compile`` argument. None (default) inherits a parent
            graph's checkpointer; False never checkpoints, which the resumable graph uses so
            that only its per-commit state is saved.
        from_prompt: Take ``{"prompt": ..., "system": ...}`` as input instead of a ready
            ``RainState``: an entry step, ``prepare``, builds the context's missing handles
            (``RainContext.load_handles``) and the initial state, then the search starts.
            This is the graph LangGraph Studio runs (graphs/rain_search.py).
    """
    input_schema, entry = RainState, "select"
    if from_prompt:
        input_schema, entry = PromptInput, "prepare"
    graph = StateGraph(RainState, context_schema=RainContext, input_schema=input_schema)
    if from_prompt:
        graph.add_node("prepare", prepare_node)
        graph.add_edge("prepare", "select")
    graph.add_node("select", select_node)
    graph.add_node("expand", expand_node)
    graph.add_node("evaluate", evaluate_node)
    graph.add_node("backward", backward_node)
    graph.add_node("commit", commit_node)
    graph.add_edge(START, entry)
    graph.add_conditional_edges("select", route_after_select)
    graph.add_edge("expand", "evaluate")
    graph.add_edge("evaluate", "backward")
    graph.add_conditional_edges(
        "backward", route_after_backward, {"select": "select", "commit": "commit", "__end__": END}
    )
    graph.add_conditional_edges("commit", route_after_commit, {"select": "select", "__end__": END})
    return graph.compile(checkpointer=checkpointer, name="rain_search")


def recursion_limit(config: SearchConfig, commits: int | None = None) -> int:
    """Super-steps the search graph may take for ``commits`` commits (default: a whole answer).

    A commit takes at most t_max passes of 4 super-steps (fewer with parallel leaves), plus
    the commit itself; every commit adds at least one token, so an answer has at most
    ``max_new_tokens`` commits.
    """
    commits = config.max_new_tokens if commits is None else commits
    return commits * (4 * config.most_iterations_per_commit() + 1) + 16


# --- helpers -----------------------------------------------------------------------------


def _stops(ctx: RainContext) -> frozenset[int]:
    return ctx.backend.stop_token_ids


def _proposal(
    state: RainState,
    ctx: RainContext,
    node: int,
    iteration: int,
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
        seed=draw_seed(config.seed, iteration, node, salt, len(state["answer_ids"])),
        exclude=exclude,
        temperature=config.temperature,
    )


def _embed_paths(
    ctx: RainContext, tree: SearchTree, leaves: list[int], rollouts: list[list[int]]
) -> list[list[list[float]] | None]:
    """Per leaf, the embedding per path node of its text from that node's set on.

    The text runs to the end of the leaf's roll-out; all leaves' texts go to the encoder
    in one call.
    """
    if ctx.embedder is None or not ctx.config.use_similarity:
        return [None] * len(leaves)
    texts: list[str] = []
    spans = []
    for leaf, rollout in zip(leaves, rollouts, strict=True):
        path, tail, own = tree.path(leaf), list(rollout), []
        for node in reversed(path):
            tail = list(tree.tokens[node]) + tail
            own.append(ctx.backend.detokenize(tail))
        spans.append((len(texts), len(own)))
        texts += own[::-1]
    vectors = ctx.embedder.embed(texts) if texts else []
    return [list(vectors[start : start + n]) for start, n in spans]


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
