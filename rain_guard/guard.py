"""A RAIN guardrail for agent graphs: a node that checks the last answer, and its router.

Wiring (the ToolNode + tools_condition pattern)::

    builder.add_node("agent", call_model)
    builder.add_node("tools", ToolNode(tools))
    builder.add_node("rain_guard", RainGuardNode(ChatRAIN()))
    builder.add_conditional_edges("agent", guard_condition)   # -> "tools" | "rain_guard"
    builder.add_edge("tools", "agent")
    builder.add_edge("rain_guard", END)

The node scores the last AIMessage with the criterion. At or above ``threshold`` it passes
through unchanged; below, it regenerates that turn with RAIN from the same conversation and
returns a message with the *same id*, so ``add_messages`` replaces it in place. Messages that
call tools are never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from rain_guard.chat_model import ChatRAIN
from rain_guard.errors import PromptError
from rain_guard.messages import to_turns


class RainGuardNode:
    """Graph node: keep a safe final answer, regenerate an unsafe one with RAIN.

    Args:
        llm: The ChatRAIN that judges (its evaluator) and regenerates (its search).
        threshold: Scores below this (in [-1, 1]) trigger regeneration.
        messages_key: State key of the message list.
        name: Node name, used in metadata.
    """

    def __init__(
        self,
        llm: ChatRAIN,
        *,
        threshold: float = 0.0,
        messages_key: str = "messages",
        name: str = "rain_guard",
    ) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise PromptError(f"threshold must be in [-1, 1], got {threshold}")
        self.llm = llm
        self.threshold = threshold
        self.messages_key = messages_key
        self.name = name

    def __call__(self, state: Any) -> dict[str, list[BaseMessage]]:
        messages = _messages(state, self.messages_key)
        replacement = self.check(messages)
        return {self.messages_key: [replacement]} if replacement is not None else {}

    async def ainvoke(self, state: Any) -> dict[str, list[BaseMessage]]:
        """Async form (the search runs in a worker thread)."""
        import asyncio

        return await asyncio.to_thread(self, state)

    def score(self, messages: Sequence[BaseMessage]) -> float | None:
        """Score of the last AI answer, or None when there is nothing to judge."""
        last = messages[-1] if messages else None
        if not isinstance(last, AIMessage) or last.tool_calls or not last.text:
            return None
        evaluator = self.llm.get_evaluator(self.llm.get_backend())
        return evaluator.score(_last_request(messages[:-1]), [last.text])[0]

    def check(self, messages: Sequence[BaseMessage]) -> AIMessage | None:
        """The replacement of the last AI message, or None to let it pass."""
        score = self.score(messages)
        if score is None or score >= self.threshold:
            return None
        original = messages[-1]
        fresh = self.llm.invoke(list(messages[:-1]))
        metadata = {
            **fresh.response_metadata,
            "rain_guard": {
                "replaced": True,
                "original_score": score,
                "threshold": self.threshold,
                "original_content": original.text,
            },
        }
        return AIMessage(
            content=fresh.content,
            id=original.id,
            name=original.name,
            response_metadata=metadata,
            usage_metadata=fresh.usage_metadata,
        )


def guard_condition(state: Any, messages_key: str = "messages") -> Literal["tools", "rain_guard"]:
    """Router after the agent: tool calls go to "tools", final answers to "rain_guard"."""
    messages = _messages(state, messages_key)
    last = messages[-1] if messages else None
    if isinstance(last, AIMessage) and last.tool_calls:
        return "tools"
    return "rain_guard"


def _messages(state: Any, key: str) -> list[BaseMessage]:
    if isinstance(state, list):
        return state
    if isinstance(state, dict):
        return list(state.get(key, []))
    return list(getattr(state, key, []))


def _last_request(messages: Sequence[BaseMessage]) -> str:
    """The last human turn (what the evaluator's {prompt} should be)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    turns = to_turns(messages)
    return turns[-1][1] if turns else ""
