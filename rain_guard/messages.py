"""Conversion of LangChain messages to the ``(role, text)`` turns backends understand."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from rain_guard.errors import PromptError

_KEEP_CONTROLS = {"\n", "\t", "\r"}
UNREADABLE_BLOCKS = frozenset(
    {"image", "image_url", "audio", "input_audio", "video", "file", "document", "text-plain"}
)
"""Content-block types (LangChain standard, OpenAI and Anthropic formats) that carry media
or files: a text-only model cannot read them."""


def prompt_turns(prompt: str, system: str | None = None) -> list[tuple[str, str]]:
    """The turns of one request: the system message if there is one, then the prompt."""
    return [*([("system", system)] if system else []), ("user", prompt)]


def to_turns(messages: Sequence[Any]) -> list[tuple[str, str]]:
    """``(role, text)`` turns with roles "system", "user" and "assistant".

    Tool results become user turns naming the tool; list contents keep their text blocks.
    Texts are cleaned by ``clean_text`` (control characters and lone surrogates dropped).

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


def clean_text(text: str) -> str:
    r"""``text`` without control characters and lone surrogates; newline, tab and CR kept.

    Why: a prompt may come from bytes decoded with ``errors="surrogateescape"`` (lone
    surrogates such as ``"\udcff"``, which cannot be encoded as UTF-8 and make tokenizers
    raise) or carry terminal escapes and NULs, which mean nothing to a chat model. Dropping
    them never fails; text decoded with ``errors="replace"`` keeps its U+FFFD characters,
    which are ordinary text. Applied to every message (``to_turns``) and by
    ``rain_guard.generation.prepare_prompt``, so all entry points see the same prompt.
    """
    return "".join(
        ch for ch in text if ch in _KEEP_CONTROLS or unicodedata.category(ch) not in ("Cc", "Cs")
    )


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


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, AIMessage):
        return "assistant"
    return "user"  # human, tool and generic chat messages speak to the assistant


def _text(message: BaseMessage) -> str:
    text = message.text if isinstance(message.text, str) else message.text()
    if isinstance(message, ToolMessage):
        return f"[result of tool {message.name or message.tool_call_id}]\n{text}"
    if isinstance(message, AIMessage) and message.tool_calls and not text:
        calls = ", ".join(f"{c['name']}({c['args']})" for c in message.tool_calls)
        return f"[called tools: {calls}]"
    if isinstance(message, HumanMessage | SystemMessage | AIMessage | ToolMessage):
        return text
    return text
