"""A calculator tool and a rule that calls it: the tool half of the demo guarded agent.

SmolLM2-135M cannot emit tool calls reliably, so the demo agent decides them by rule: a
message holding an arithmetic expression gets a ``calculator`` call; anything else is
answered by the language model.
"""

from __future__ import annotations

import ast
import operator
import re
import uuid
from collections.abc import Sequence

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
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
