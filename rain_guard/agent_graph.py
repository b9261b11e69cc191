"""build_guarded_agent(): a small tool-using agent graph with the RAIN guard at its exit.

    START -> agent -> (tools -> agent | rain_guard -> END)

The agent node asks ``model`` for the next message (with tools bound when the model supports
tool calling). Small local models cannot call tools reliably, so a ``tool_chooser`` may decide
tool calls first (a rule, a classifier); when it returns None the model answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from typing_extensions import TypedDict

from rain_guard.guard import RainGuardNode, guard_condition

ToolChooser = Callable[[Sequence[AnyMessage]], AIMessage | None]


class AgentState(TypedDict):
    """Conversation state: messages merged by id (``add_messages``).

    ``typing_extensions.TypedDict``, not ``typing``'s: on Python < 3.12 pydantic can build a
    JSON schema only from the former, and LangGraph Studio needs one for its input form.
    """

    messages: Annotated[list[AnyMessage], add_messages]


def build_guarded_agent(
    model: BaseChatModel,
    guard: RainGuardNode,
    tools: Sequence[BaseTool] = (),
    *,
    tool_chooser: ToolChooser | None = None,
    checkpointer: Any = None,
) -> CompiledStateGraph:
    """Compile the agent graph; pass a checkpointer to keep conversations across calls."""
    bound = _bind(model, tools)

    def agent(state: AgentState) -> dict[str, list[AnyMessage]]:
        messages = state["messages"]
        chosen = tool_chooser(messages) if tool_chooser is not None else None
        reply = chosen if chosen is not None else bound.invoke(messages)
        if reply.id is None:
            reply.id = f"run-{uuid.uuid4()}"  # the guard replaces answers by id
        return {"messages": [reply]}

    builder = StateGraph(AgentState)
    builder.add_node("agent", agent)
    builder.add_node("rain_guard", guard)
    builder.add_edge(START, "agent")
    if tools:
        builder.add_node("tools", ToolNode(list(tools)))
        builder.add_conditional_edges("agent", guard_condition)
        builder.add_edge("tools", "agent")
    else:
        builder.add_edge("agent", "rain_guard")
    builder.add_edge("rain_guard", END)
    return builder.compile(checkpointer=checkpointer, name="guarded_agent")


def _bind(model: BaseChatModel, tools: Sequence[BaseTool]) -> Any:
    if not tools:
        return model
    try:
        return model.bind_tools(list(tools))
    except NotImplementedError:
        return model  # the tool_chooser decides tool calls for models without tool calling
