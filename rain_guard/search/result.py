"""GenerationResult: one answer, how it ended and what it cost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rain_guard.search.context import RainContext
from rain_guard.search.state import RainState


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


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop string."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
