"""A RAIN guardrail for agent graphs: a node that checks the last answer, and its router.

Wiring (the ToolNode + tools_condition pattern)::

    builder.add_node("agent", call_model)
    builder.add_node("tools", ToolNode(tools))
    builder.add_node("rain_guard", RainGuardNode(ChatRAIN()))
    builder.add_conditional_edges("agent", guard_condition)   # -> "tools" | "rain_guard"
    builder.add_edge("tools", "agent")
    builder.add_edge("rain_guard", END)

The node scores the last AIMessage with its judge. At or above ``threshold`` it passes
through unchanged. Below, RAIN regenerates that turn from the same conversation and the judge
scores the regenerated text too; the node returns a message with the *same id*, so
``add_messages`` replaces the original in place, holding:

* the regenerated text, when it scores at or above the threshold (action "regenerated");
* otherwise the ``fallback`` message, a refusal by default (action "fallback"), because a
  regeneration the judge still rejects is no safer than the original;
* with ``fallback=None``, the regenerated text all the same (action "kept"), for callers that
  prefer RAIN's best effort to a refusal.

Either way ``response_metadata["rain_guard"]`` records both scores, the threshold, the action
and both texts, and ``replaced`` is True only when the text the user sees changed. Messages
that call tools are never touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from rain_guard.chat_model import ChatRAIN
from rain_guard.errors import ConfigError
from rain_guard.judging.evaluator import Evaluator, checked_scores
from rain_guard.messages import to_turns

DEFAULT_THRESHOLD = 0.0
"""Scores below this (in [-1, 1]) make the guard regenerate (see ``RainGuardNode``)."""

DEFAULT_FALLBACK = "I can't help with that."
"""What the guard answers when RAIN's regeneration still scores below the threshold."""

GuardAction = Literal["regenerated", "fallback", "kept"]


class RainGuardNode:
    """Graph node: keep a final answer the judge accepts, replace one it rejects.

    What the default judge lets through: the judge is the ChatRAIN's evaluator. For the
    embedded model that is the shipped harm classifier (``harm_classifier``); at the default
    threshold it rejects most explicitly harmful agent answers and still passes some, and
    rejects some harmless ones (docs/measurements/guard_threshold.md has the counts per
    threshold, on a tuning and a held-out half; ``benchmarks/guard_threshold.py`` re-measures
    any judge). A ChatRAIN on another model judges by self-evaluation with "harmless" unless
    told otherwise; measure it the same way. For a guard that must stop explicit harm, pass a
    stronger ``evaluator`` (a classifier or a larger chat model via
    ``rain_guard.judging.external``) and choose its threshold with that script.

    Args:
        llm: The ChatRAIN that regenerates rejected answers (and judges by default).
        threshold: Scores below this (in [-1, 1]) are rejected.
        evaluator: The judge: any ``Evaluator`` (``score(prompt, answers) -> [-1, 1]``);
            None uses the llm's own evaluator (its ``criterion`` or ``evaluator``).
        fallback: The answer used when the regeneration is rejected too (default: a short
            refusal); None keeps the regenerated text, recorded with action "kept".
        messages_key: State key of the message list.
        name: Node name, used in metadata.

    Raises:
        ConfigError: ``llm`` is not a ChatRAIN, ``threshold`` is not a number in [-1, 1],
            ``evaluator`` has no ``score`` method, or ``fallback`` is not a non-blank str
            or None.
    """

    def __init__(
        self,
        llm: ChatRAIN,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        evaluator: Evaluator | None = None,
        fallback: str | None = DEFAULT_FALLBACK,
        messages_key: str = "messages",
        name: str = "rain_guard",
    ) -> None:
        self.llm = require_chat_rain(llm, "RainGuardNode")
        self.threshold = _checked_threshold(threshold)
        self.evaluator = _checked_evaluator(evaluator)
        self.fallback = _checked_fallback(fallback)
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

    def judge(self) -> Evaluator:
        """The evaluator that scores answers: ``evaluator``, else the llm's own."""
        if self.evaluator is not None:
            return self.evaluator
        return self.llm.get_evaluator(self.llm.get_backend())

    def score(self, messages: Sequence[BaseMessage]) -> float | None:
        """Score of the last AI answer, or None when there is nothing to judge."""
        last = messages[-1] if messages else None
        if not isinstance(last, AIMessage) or last.tool_calls or not last.text:
            return None
        return self._score_text(_last_request(messages[:-1]), last.text)

    def check(self, messages: Sequence[BaseMessage]) -> AIMessage | None:
        """The message that replaces the last AI answer, or None to let it pass."""
        return self.check_many([messages])[0]

    def check_many(self, conversations: Sequence[Sequence[BaseMessage]]) -> list[AIMessage | None]:
        """``check`` for several conversations; their regenerations share forward calls.

        The turns that fail the threshold are regenerated with one ``ChatRAIN.batch``
        (searches in lockstep), each answer equal to what it gets alone.
        """
        scores = [self.score(messages) for messages in conversations]
        failing = [
            i for i, score in enumerate(scores) if score is not None and score < self.threshold
        ]
        fresh = self.llm.batch([list(conversations[i][:-1]) for i in failing]) if failing else []
        out: list[AIMessage | None] = [None] * len(conversations)
        for i, message in zip(failing, fresh, strict=True):
            out[i] = self._replacement(conversations[i], scores[i], message)
        return out

    def _replacement(
        self, messages: Sequence[BaseMessage], score: float, fresh: AIMessage
    ) -> AIMessage:
        """The message that replaces the last AI answer, RAIN's ``fresh`` one judged again."""
        original = messages[-1]
        regenerated = fresh.text
        regenerated_score = self._regenerated_score(messages, regenerated, score)
        action, content = self._decide(original, fresh, regenerated_score)
        record = {
            "action": action,
            "replaced": _plain(content) != _plain(original.content),
            "threshold": self.threshold,
            "original_score": score,
            "regenerated_score": regenerated_score,
            "original_content": original.text,
            "regenerated_content": regenerated,
        }
        return AIMessage(
            content=content,
            id=original.id,
            name=original.name,
            response_metadata={**fresh.response_metadata, "rain_guard": record},
            usage_metadata=fresh.usage_metadata,
        )

    def _regenerated_score(
        self, messages: Sequence[BaseMessage], regenerated: str, original_score: float
    ) -> float | None:
        """The judge's score of RAIN's text; None when RAIN returned no text.

        Text identical to the original (up to surrounding whitespace) keeps the original's
        score: the judge is asked once per text.
        """
        if not regenerated.strip():
            return None
        if regenerated.strip() == messages[-1].text.strip():
            return original_score
        return self._score_text(_last_request(messages[:-1]), regenerated)

    def _decide(
        self, original: BaseMessage, fresh: AIMessage, regenerated_score: float | None
    ) -> tuple[GuardAction, Any]:
        """What the user sees: RAIN's text if accepted, else the fallback (or RAIN's text)."""
        if regenerated_score is not None and regenerated_score >= self.threshold:
            return "regenerated", fresh.content
        if self.fallback is not None:
            return "fallback", self.fallback
        return "kept", fresh.content if fresh.text.strip() else original.content

    def _score_text(self, request: str, text: str) -> float:
        return checked_scores(self.judge(), request, [text])[0]


def guard_condition(state: Any, messages_key: str = "messages") -> Literal["tools", "rain_guard"]:
    """Router after the agent: tool calls go to "tools", final answers to "rain_guard"."""
    messages = _messages(state, messages_key)
    last = messages[-1] if messages else None
    if isinstance(last, AIMessage) and last.tool_calls:
        return "tools"
    return "rain_guard"


def require_chat_rain(llm: Any, owner: str) -> ChatRAIN:
    """``llm`` if it is a ChatRAIN; a ConfigError that says what to pass otherwise."""
    if isinstance(llm, ChatRAIN):
        return llm
    raise ConfigError(
        f"{owner} needs a ChatRAIN (the model that regenerates rejected answers), got "
        f"{type(llm).__name__} {llm!r:.60}: pass {owner}(ChatRAIN(max_tokens=64)); the "
        "agent's own model (any tool-calling chat model) stays where it is"
    )


def _checked_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ConfigError(f"threshold must be a number in [-1, 1], got {threshold!r}")
    if math.isnan(threshold) or not -1.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be in [-1, 1] (judge scores), got {threshold}")
    return float(threshold)


def _checked_evaluator(evaluator: Any) -> Evaluator | None:
    if evaluator is None or (isinstance(evaluator, Evaluator) and not isinstance(evaluator, type)):
        return evaluator
    got = (
        f"the class {evaluator.__name__}"
        if isinstance(evaluator, type)
        else type(evaluator).__name__
    )
    raise ConfigError(
        f"evaluator must be a rain_guard Evaluator (an object with score(prompt, answers)), "
        f"got {got}; pass an instance, or wrap a function as FunctionEvaluator(fn)"
    )


def _checked_fallback(fallback: Any) -> str | None:
    if fallback is None or (isinstance(fallback, str) and fallback.strip()):
        return fallback
    raise ConfigError(
        f"fallback must be a non-blank message or None (keep RAIN's text), got {fallback!r}"
    )


def _plain(content: Any) -> str:
    """Message content as text, for comparing what the user sees."""
    return AIMessage(content=content).text.strip()


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
