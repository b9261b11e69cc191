"""RainState: the data of one RAIN generation, and the state before its first step.

Only data (token ids, the SearchTree's lists, counters): the model, evaluator and embedder
travel in the run context (``RainContext``), so checkpointers can save the state.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from typing_extensions import TypedDict

from rain_guard.backends.base import Backend
from rain_guard.search.tree import ROOT, SearchTree

StopReason = Literal["eos", "stop", "length", "context", "time_budget", "token_budget", "exhausted"]


class RainState(TypedDict, total=False):
    """Data of one RAIN generation (everything a checkpointer needs to resume it).

    Keys:
        prompt_ids: Chat prompt ids (with the generation prompt).
        question: The request as the evaluator sees it ({prompt} of the criterion).
        answer_ids: Committed answer ids.
        tree: The search tree under the committed text.
        leaves: Nodes chosen by the last ``select`` (1 to ``parallel_leaves``, distinct, or
            the root k times for fresh whole-answer roll-outs under ``graft_rollouts``);
            with grafting, ``evaluate`` replaces each by the end of its grafted chain.
        scores: Evaluation score of each leaf, in [-1, 1].
        path_embeddings: Per leaf, the embeddings of its evaluated text per path node
            (similarity update), or None when the update is off.
        rollouts: Per leaf, the roll-out ids ``expand`` drew for ``evaluate`` (None where
            ``evaluate`` must draw it: the leaf was not expanded).
        iterations: Inner iterations in this answer (one per evaluated leaf).
        rewinds: Iterations that backed up instead of extending the previous leaf.
        commits: One record per commit (tokens, text, value, visits, iterations).
        stop_reason: Why generation ended (None while running).
        started_at: Unix time of the first step (seconds), for the wall-time budget.
        model_tokens_at_start: Backend token counter at the start, for the token budget.
        last_leaf: The last leaf backed up (to count rewinds across passes).
    """

    prompt_ids: list[int]
    question: str
    answer_ids: list[int]
    tree: SearchTree
    leaves: list[int]
    scores: list[float]
    path_embeddings: list[list[list[float]] | None]
    rollouts: list[list[int] | None]
    iterations: int
    rewinds: int
    commits: list[dict[str, Any]]
    stop_reason: StopReason | None
    started_at: float
    model_tokens_at_start: int
    last_leaf: int


def initial_state(prompt_ids: list[int], question: str, backend: Backend) -> RainState:
    """State before the first step: an empty answer and a one-node tree."""
    return RainState(
        prompt_ids=list(prompt_ids),
        question=question,
        answer_ids=[],
        tree=SearchTree(),
        leaves=[],
        scores=[],
        path_embeddings=[],
        rollouts=[],
        iterations=0,
        rewinds=0,
        commits=[],
        stop_reason=None,
        started_at=time.time(),
        model_tokens_at_start=backend.counters.tokens_processed,
        last_leaf=ROOT,
    )
