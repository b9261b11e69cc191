"""ChatRAIN's output: one answer in progress, its chunks, usage and response metadata.

``Run`` drives the search for one answer and turns its states into LangChain chunks: one
chunk per committed token set (never text the search is still weighing), the last one
carrying the usage, the metadata and the search trace, so a stream never ends empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from rain_guard.errors import BudgetError
from rain_guard.search.config import SearchConfig
from rain_guard.search.context import RainContext
from rain_guard.search.run import (
    GenerationResult,
    cut_at_stop,
    prepare_prompt,
    result_from_state,
    stream_search,
    vanilla_generate,
)
from rain_guard.search.state import RainState

Trace = Literal["off", "summary", "full"]
BUDGET_STOPS = ("time_budget", "token_budget")
SUMMARY_KEYS = ("text", "value", "visits", "iterations")
"""What the "summary" trace keeps of each commit record."""


async def astream_run(
    run: Run, run_manager: AsyncCallbackManagerForLLMRun | None
) -> AsyncIterator[ChatGenerationChunk]:
    """``run``'s chunks, one super-step per worker-thread hop, so that it can be cancelled.

    Cancelling the task stops the search before the next step (within one iteration);
    the cancellation waits for the step in flight, so the model is free afterwards.
    """
    loop = asyncio.get_running_loop()
    step: asyncio.Future[RainState | None] | None = None
    try:
        while True:
            step = loop.run_in_executor(None, next, run.steps, None)
            # shield: a cancel interrupts the wait, not the super-step in the worker
            state = await asyncio.shield(step)
            if state is None:
                break
            piece = run.step(state)
            if piece is not None:
                if run_manager is not None:
                    await run_manager.on_llm_new_token(piece.text, chunk=piece)
                yield piece
    finally:
        await finish_step(step)
        with contextlib.suppress(ValueError):  # generator still running: cannot happen now
            run.steps.close()
        run.close()
    final = await loop.run_in_executor(None, run.final_chunk)
    if run_manager is not None and final.text:
        await run_manager.on_llm_new_token(final.text, chunk=final)
    yield final


async def finish_step(step: asyncio.Future[Any] | None) -> None:
    """Wait for a super-step still running in a worker after a cancel.

    So no search work outlives the call and the model is free for the next one. It is at
    most one super-step: a single model call plus bookkeeping. Its result no longer matters.
    """
    if step is None or step.done():
        return
    with contextlib.suppress(Exception):
        await step


class Run:
    """One answer in progress: the search steps and the text already streamed.

    Each commit's text is streamed when the next commit arrives, and the last one in the
    final chunk with the usage, metadata and trace: the search may end without more text
    (an EOS set, a budget), and a stream must not end with an empty chunk. So a chunk comes
    one commit late, and the final chunk carries the last committed text.
    """

    def __init__(
        self,
        ctx: RainContext,
        turns: Sequence[tuple[str, str]],
        model_name: str,
        *,
        trace: Trace = "summary",
        writer: Callable[[Any], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.model_name = model_name
        self.trace = trace
        self.started = time.perf_counter()
        self.counters_before = ctx.backend.counters.snapshot()
        prompt_ids, question = prepare_prompt(ctx.backend, turns, ctx.config)
        self.steps = stream_search(ctx, prompt_ids, question, on_event=writer)
        self.state: RainState | None = None
        self.sent = ""  # committed text streamed or held
        self.held = ""  # the last commit's text, not streamed yet
        self.commits_seen = 0

    def close(self) -> None:
        """Leave the shared batch, if the search ran in one (the others stop waiting)."""
        close = getattr(self.ctx.backend, "close", None)
        if close is not None:
            close()

    def step(self, state: RainState) -> ChatGenerationChunk | None:
        """The chunk to stream after the super-step that produced ``state``, if any."""
        new = self.delta(state)
        if not new:
            return None
        out, self.held = self.held, new
        return chunk(out) if out else None

    def delta(self, state: RainState) -> str:
        """New committed text since the last call ('' when nothing new was committed)."""
        self.state = state
        if len(state["commits"]) == self.commits_seen:
            return ""
        self.commits_seen = len(state["commits"])
        text = cut_at_stop(self.ctx.backend.detokenize(state["answer_ids"]), self.ctx.stop)
        if not text.startswith(self.sent):
            return ""  # a multi-byte character is still incomplete; send it with the next set
        new, self.sent = text[len(self.sent) :], text
        return new

    def final_chunk(self) -> ChatGenerationChunk:
        """The closing chunk: the text not sent yet, usage, metadata and the search trace.

        Raises:
            BudgetError: a budget ran out before any text was committed.
        """
        assert self.state is not None
        result = result_from_state(
            self.ctx, self.state, time.perf_counter() - self.started, self.counters_before
        )
        if not result.text and result.stop_reason in BUDGET_STOPS:
            raise BudgetError(budget_message(result, self.ctx.config))
        rest = result.text[len(self.sent) :] if result.text.startswith(self.sent) else ""
        message = AIMessageChunk(
            content=self.held + rest,
            usage_metadata=usage(result),
            response_metadata=metadata(result, self.model_name, self.ctx, self.trace),
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)


def plain_chunk(
    ctx: RainContext, turns: Sequence[tuple[str, str]], model_name: str, trace: Trace
) -> ChatGenerationChunk:
    """The whole answer of plain (greedy) decoding with the same model, as one chunk."""
    result = vanilla_generate(
        ctx.backend, turns, max_new_tokens=ctx.config.max_new_tokens, stop=ctx.stop
    )
    message = AIMessageChunk(
        content=result.text,
        usage_metadata=usage(result),
        response_metadata=metadata(result, model_name, ctx, trace),
        chunk_position="last",
    )
    return ChatGenerationChunk(message=message)


def budget_message(result: GenerationResult, config: SearchConfig) -> str:
    """Why an answer is empty, naming the budget and the settings that commit sooner."""
    if result.stop_reason == "time_budget":
        budget = f"the time budget (timeout={config.max_seconds} s)"
    else:
        budget = f"the model-token budget (max_model_tokens={config.max_model_tokens})"
    return (
        f"{budget} ran out after {result.iterations} search iterations, before any text was "
        f"committed; raise it, or commit sooner with smaller t_min/t_max (now {config.t_min}/"
        f"{config.t_max}) or num_candidates (now {config.num_candidates})"
    )


def parent_stream_writer() -> Callable[[Any], None] | None:
    """The enclosing LangGraph run's custom-stream writer, if ChatRAIN runs inside a graph.

    Search progress (iterations and commits) then reaches ``stream_mode="custom"`` of the
    caller's graph; evaluator calls never reach ``stream_mode="messages"`` because they do
    not go through LangChain callbacks at all.
    """
    try:
        from langgraph.config import get_stream_writer

        return get_stream_writer()
    except (ImportError, RuntimeError, KeyError):  # not inside a LangGraph run
        return None


def chunk(text: str) -> ChatGenerationChunk:
    """A chunk of committed answer text."""
    return ChatGenerationChunk(message=AIMessageChunk(content=text))


def result_from_chunks(chunks: list[ChatGenerationChunk | None]) -> ChatResult:
    """The whole answer as one message: the chunks merged, text and metadata together."""
    merged = None
    for piece in chunks:
        if piece is not None:
            merged = piece if merged is None else merged + piece
    assert merged is not None
    msg = merged.message
    message = AIMessage(
        content=msg.content,
        id=msg.id,
        usage_metadata=msg.usage_metadata,
        response_metadata=msg.response_metadata,
    )
    return ChatResult(generations=[ChatGeneration(message=message)])


def usage(result: GenerationResult) -> dict[str, Any]:
    """LangChain usage metadata of one answer, the search's tokens in ``total_tokens``.

    ``input_tokens``: the chat prompt; ``output_tokens``: the answer; ``total_tokens``: every
    token the model processed (at least input + output); ``output_token_details["search"]``:
    the rest (roll-outs, evaluation prompts, candidates not kept).
    """
    answer = len(result.token_ids)
    search = max(0, result.counters.get("tokens_processed", 0) - result.prompt_tokens - answer)
    return {
        "input_tokens": result.prompt_tokens,
        "output_tokens": answer,
        "total_tokens": result.prompt_tokens + answer + search,
        "output_token_details": {"search": search},
    }


def metadata(
    result: GenerationResult, model_name: str, ctx: RainContext, trace: Trace = "summary"
) -> dict[str, Any]:
    """Response metadata of one answer: why it ended, what the search did, its trace."""
    budget = result.stop_reason in BUDGET_STOPS
    cut_short = budget or result.stop_reason in ("length", "context")
    meta = {
        "model_name": model_name,
        "model_provider": "rain_guard",
        "finish_reason": "length" if cut_short else "stop",  # "length": the answer was cut
        "stop_reason": result.stop_reason,
        "budget_exhausted": budget,
        "iterations": result.iterations,
        "rewinds": result.rewinds,
        "final_value": result.final_value,
        "commit_values": [c["value"] for c in result.commits],
        "seconds": round(result.seconds, 3),
        "counters": result.counters,
    }
    if trace != "off":
        commits = result.commits
        if trace == "summary":
            commits = [{k: c[k] for k in SUMMARY_KEYS if k in c} for c in commits]
        criterion = getattr(getattr(ctx.evaluator, "criterion", None), "name", None)
        meta["trace"] = {"criterion": criterion, "commits": commits}
    return meta
