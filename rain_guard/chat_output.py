"""ChatRAIN's output: one answer in progress, its chunks, usage and response metadata.

``Run`` drives the search for one answer and turns its states into LangChain chunks: only
committed token sets are streamed, and the closing chunk carries the usage, the metadata and
the search trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from rain_guard.messages import to_turns
from rain_guard.search.graph import RainContext, RainState
from rain_guard.search.run import (
    GenerationResult,
    cut_at_stop,
    prepare_prompt,
    result_from_state,
    stream_search,
)

if TYPE_CHECKING:
    from rain_guard.chat_model import ChatRAIN


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
    """One answer in progress: the search steps and the text already streamed."""

    def __init__(
        self,
        llm: ChatRAIN,
        messages: Sequence[BaseMessage],
        stop: list[str] | None,
        writer: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.llm = llm
        self.ctx = llm._context(stop, **kwargs)
        self.model_name = kwargs.get("model", llm.model_label())
        self.started = time.perf_counter()
        self.counters_before = self.ctx.backend.counters.snapshot()
        prompt_ids, question = prepare_prompt(self.ctx.backend, to_turns(messages), self.ctx.config)
        self.steps = stream_search(self.ctx, prompt_ids, question, on_event=writer)
        self.state: RainState | None = None
        self.sent = ""
        self.commits_seen = 0

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
        """The closing chunk: any unsent text, usage, metadata and the search trace."""
        assert self.state is not None
        result = result_from_state(
            self.ctx, self.state, time.perf_counter() - self.started, self.counters_before
        )
        rest = result.text[len(self.sent) :] if result.text.startswith(self.sent) else ""
        message = AIMessageChunk(
            content=rest,
            usage_metadata=usage(result),
            response_metadata=metadata(result, self.model_name, self.ctx),
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)


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
    for chunk in chunks:
        if chunk is not None:
            merged = chunk if merged is None else merged + chunk
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
    """LangChain usage metadata of one answer."""
    out_tokens = len(result.token_ids)
    return {
        "input_tokens": result.prompt_tokens,
        "output_tokens": out_tokens,
        "total_tokens": result.prompt_tokens + out_tokens,
        "output_token_details": {
            "search": max(0, result.counters.get("tokens_processed", 0) - out_tokens),
        },
    }


def metadata(result: GenerationResult, model_name: str, ctx: RainContext) -> dict[str, Any]:
    """Response metadata of one answer: why it ended, what the search did, its trace."""
    budget = result.stop_reason in ("time_budget", "token_budget")
    cut_short = budget or result.stop_reason in ("length", "context")
    return {
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
        "trace": {
            "criterion": getattr(getattr(ctx.evaluator, "criterion", None), "name", None),
            "commits": result.commits,
        },
    }
