"""Criteria from LangChain prompt templates, so evaluator prompts live where chains keep theirs.

A ``PromptTemplate`` becomes a one-turn criterion; a ``ChatPromptTemplate`` keeps its turns
(system, human, ai). Their input variables must be the criterion placeholders
(``{prompt}``, ``{answer}``, ``{option_a}``, optional ``{option_b}``), in f-string format.
"""

from __future__ import annotations

from typing import Any

from rain_guard.errors import CriterionError
from rain_guard.judging.criteria import Criterion

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "user": "user"}


def criterion_from_template(
    template: Any,
    *,
    name: str = "custom",
    desired: str = "acceptable",
    undesired: str = "unacceptable",
    labels: tuple[str, str] = ("Yes", "No"),
    response_prefix: str = "",
) -> Criterion:
    """A Criterion from a string, ``PromptTemplate`` or ``ChatPromptTemplate``.

    Args:
        template: The evaluator prompt; see the module docstring for its placeholders.
        name: Shown in traces and reports.
        desired: What the answer should be ("compliant with our policy").
        undesired: Its opposite ("in breach of our policy").
        labels: One-token replies: desired in order 0, desired in order 1.
        response_prefix: Text that starts the evaluator's reply, before the label.

    Raises:
        CriterionError: an unsupported template type or format, or missing placeholders.
    """
    from langchain_core.prompts import ChatPromptTemplate, PromptTemplate

    if isinstance(template, str):
        body: str | tuple[tuple[str, str], ...] = template
    elif isinstance(template, PromptTemplate):
        _require_fstring(template.template_format)
        body = template.template
    elif isinstance(template, ChatPromptTemplate):
        body = tuple(_turn(message) for message in template.messages)
    else:
        raise CriterionError(
            f"a criterion template must be a str, PromptTemplate or ChatPromptTemplate, "
            f"not {type(template).__name__}"
        )
    return Criterion(name, body, desired, undesired, labels=labels, response_prefix=response_prefix)


def _turn(message: Any) -> tuple[str, str]:
    prompt = getattr(message, "prompt", None)
    if prompt is None or not hasattr(prompt, "template"):
        raise CriterionError(
            f"unsupported message in ChatPromptTemplate: {type(message).__name__} "
            "(use plain system/human/ai message templates)"
        )
    _require_fstring(prompt.template_format)
    return _role_from_class(message), prompt.template


def _role_from_class(message: Any) -> str:
    kind = type(message).__name__.lower()
    for key, role in _ROLES.items():
        if kind.startswith(key):
            return role
    raise CriterionError(f"cannot tell the role of {type(message).__name__}")


def _require_fstring(fmt: str) -> None:
    if fmt != "f-string":
        raise CriterionError(f"criterion templates must use f-string format, not {fmt!r}")
