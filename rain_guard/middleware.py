"""RAIN guardrail as ``create_agent`` middleware (langchain 1.x; the ``agents`` extra).

    from langchain.agents import create_agent
    from rain_guard.middleware import RainGuardMiddleware

    agent = create_agent(model, tools, middleware=[RainGuardMiddleware(ChatRAIN())])

``model`` is any tool-calling chat model; the ChatRAIN only guards. After every model call
the middleware does what ``RainGuardNode`` does: a final answer its judge rejects is
regenerated with RAIN, the regeneration is judged too, and the original message is replaced
in place (same id) by the regeneration or, if that is rejected as well, by the fallback
refusal. Answers that call tools pass untouched, so the agent loop is unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

try:
    from langchain.agents.middleware import AgentMiddleware
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "RainGuardMiddleware needs langchain>=1.0: pip install 'rain-guard[agents]'"
    ) from exc

from rain_guard.chat_model import ChatRAIN
from rain_guard.guard import (
    DEFAULT_FALLBACK,
    DEFAULT_THRESHOLD,
    RainGuardNode,
    require_chat_rain,
)
from rain_guard.judging.evaluator import Evaluator


class RainGuardMiddleware(AgentMiddleware):
    """Judge each final answer; regenerate a rejected one with RAIN, or refuse.

    Args:
        llm: ChatRAIN that regenerates rejected answers (and judges by default).
        threshold: Scores below this (in [-1, 1]) are rejected.
        evaluator: The judge (any ``Evaluator``); None uses the llm's own evaluator.
        fallback: The answer when the regeneration is rejected too; None keeps RAIN's text.

    Raises:
        ConfigError: ``llm`` is not a ChatRAIN, or another setting is invalid (see
            ``RainGuardNode``, which documents what the default judge lets through).
    """

    def __init__(
        self,
        llm: ChatRAIN,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        evaluator: Evaluator | None = None,
        fallback: str | None = DEFAULT_FALLBACK,
    ) -> None:
        super().__init__()
        require_chat_rain(llm, "RainGuardMiddleware")
        self.guard = RainGuardNode(llm, threshold=threshold, evaluator=evaluator, fallback=fallback)

    @property
    def name(self) -> str:
        return "RainGuardMiddleware"

    def after_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        replacement = self.guard.check(state["messages"])
        return {"messages": [replacement]} if replacement is not None else None

    async def aafter_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.after_model, state, runtime)
