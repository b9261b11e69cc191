"""Conversion of LangChain messages to the ``(role, text)`` turns backends understand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from rain_guard.errors import PromptError
from rain_guard.search.inputs import clean_text, prompt_turns

__all__ = ["clean_text", "prompt_turns", "reply_text", "text_turns", "to_turns"]

UNREADABLE_BLOCKS = frozenset(
    {"image", "image_url", "audio", "input_audio", "video", "file", "document", "text-plain"}
)
"""Content-block types (LangChain standard, OpenAI and Anthropic formats) that carry media
or files: a text-only model cannot read them."""


def to_turns(messages: Sequence[Any]) -> list[tuple[str, str]]:
    """``(role, text)`` turns with roles "system", "user" and "assistant".

    Tool calls and results are told in plain sentences ("I will use the calculator tool with
    expression=2 + 2." / "The calculator tool returned: 4"), a tool result as a user turn:
    a small model copies bracketed markers such as "[result of tool ...]" into its answer,
    plain sentences it paraphrases. List contents keep their text blocks. Texts are cleaned
    by ``clean_text`` (control characters and lone surrogates dropped).

    Raises:
        PromptError: an item is not a LangChain message.
    """
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, BaseMessage):
            raise PromptError(
                f"message {i} is a {type(message).__name__}, not a LangChain message "
                "(pass a str, a list of messages, or a prompt value)"
            )
        turns.append((_role(message), clean_text(_text(message))))
    return turns


def text_turns(messages: Sequence[Any]) -> list[tuple[str, str]]:
    """``to_turns`` for a model that reads text only: other content raises, never dropped.

    Raises:
        PromptError: a message holds an image, audio, video or file block (the message and
            the block types are named), or an item is not a LangChain message.
    """
    for i, message in enumerate(messages):
        content = getattr(message, "content", None)
        if not isinstance(content, list):
            continue
        kinds = sorted({b.get("type") for b in content if isinstance(b, dict)} & UNREADABLE_BLOCKS)
        if kinds:
            raise PromptError(
                f"message {i} holds {', '.join(kinds)} content, which this text-only model "
                "cannot read; describe it in text, or use a multimodal model"
            )
    return to_turns(messages)


def reply_text(message: Any) -> str:
    """Text of a chat model's reply, whether its content is a string or a list of blocks."""
    content = getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(
            b if isinstance(b, str) else str(b.get("text", ""))
            for b in content
            if isinstance(b, str | dict)
        )
    return str(content)


def _call_text(call: dict[str, Any]) -> str:
    """One tool call as words: "the calculator tool with expression=2 + 2"."""
    args = ", ".join(f"{key}={value}" for key, value in (call.get("args") or {}).items())
    return f"the {call['name']} tool" + (f" with {args}" if args else "")


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, AIMessage):
        return "assistant"
    return "user"  # human, tool and generic chat messages speak to the assistant


def _text(message: BaseMessage) -> str:
    text = message.text if isinstance(message.text, str) else message.text()
    if isinstance(message, ToolMessage):
        tool = f"The {message.name} tool" if message.name else "The tool"
        return f"{tool} returned: {text}"
    if isinstance(message, AIMessage) and message.tool_calls and not text:
        return "I will use " + " and ".join(_call_text(c) for c in message.tool_calls) + "."
    if isinstance(message, HumanMessage | SystemMessage | AIMessage | ToolMessage):
        return text
    return text
