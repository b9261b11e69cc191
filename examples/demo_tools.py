"""A calculator tool, a rule that calls it, and a tool-calling chat model built on the two.

SmolLM2-135M cannot emit tool calls reliably, so the demo agent decides them by rule: a
message holding an arithmetic expression gets a ``calculator`` call; anything else is
answered by the language model. ``DemoToolCaller`` wraps that rule and a chat model into a
chat model with ``bind_tools``, so the demo can use ``create_agent`` exactly as with any
tool-calling model (ChatOpenAI, ChatOllama, ...).
"""

from __future__ import annotations

import ast
import operator
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool

_EXPR = re.compile(r"(\d[\d\s.]*(?:[-+*/]\s*\d[\d\s.]*)+)")
_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
}


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression with + - * / and parentheses."""
    try:
        return str(_eval(ast.parse(expression, mode="eval").body))
    except (SyntaxError, ValueError, ZeroDivisionError) as exc:
        return f"error: {exc}"


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand))
    raise ValueError("only numbers and + - * / are allowed")


def choose_calculator(messages: Sequence[AnyMessage]) -> AIMessage | None:
    """A calculator call when the last message is a human one holding arithmetic."""
    last = messages[-1] if messages else None
    if not isinstance(last, HumanMessage):
        return None
    match = _EXPR.search(last.text)
    if match is None:
        return None
    call = {"name": "calculator", "args": {"expression": match.group(1).strip()}, "id": "c1"}
    return AIMessage(content="", tool_calls=[call], id=f"run-{uuid.uuid4()}")


class DemoToolCaller(BaseChatModel):
    """A tool-calling chat model: ``choose`` decides tool calls, ``answerer`` writes answers.

    ``bind_tools`` accepts the tools and returns the model unchanged (``choose`` already
    knows which tool to call), which is all ``create_agent`` and ``ToolNode`` need.
    """

    answerer: BaseChatModel
    choose: Callable[[Sequence[AnyMessage]], AIMessage | None] = choose_calculator

    @property
    def _llm_type(self) -> str:
        return "demo-tool-caller"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> DemoToolCaller:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> ChatResult:
        reply = self.choose(messages) or self.answerer.invoke(messages, stop=stop)
        return ChatResult(generations=[ChatGeneration(message=reply)])
