"""RAIN guardrail as ``create_agent`` middleware (langchain 1.x; the ``agents`` extra).

    from langchain.agents import create_agent
    from rain_guard.middleware import RainGuardMiddleware

    agent = create_agent(model, tools, middleware=[RainGuardMiddleware(ChatRAIN())])

After every model call it does what ``RainGuardNode`` does: a final answer scoring below the
threshold is regenerated with RAIN and replaces the original message in place (same id);
answers that call tools pass untouched, so the agent loop is unchanged.
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
from rain_guard.guard import RainGuardNode


class RainGuardMiddleware(AgentMiddleware):
    """Check each final answer with RAIN's evaluator; regenerate it with RAIN when unsafe.

    Args:
        llm: ChatRAIN that judges and regenerates.
        threshold: Scores below this (in [-1, 1]) trigger regeneration.
    """

    def __init__(self, llm: ChatRAIN, *, threshold: float = 0.0) -> None:
        super().__init__()
        self.guard = RainGuardNode(llm, threshold=threshold)

    @property
    def name(self) -> str:
        return "RainGuardMiddleware"

    def after_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        replacement = self.guard.check(state["messages"])
        return {"messages": [replacement]} if replacement is not None else None

    async def aafter_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.after_model, state, runtime)
