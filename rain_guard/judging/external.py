"""Evaluators backed by something other than the generating model's own option logits.

The search only needs the ``Evaluator`` protocol (``score(prompt, answers) -> [-1, 1]``), so
the judge can be:

* ``ChatModelEvaluator``: any LangChain chat model asked the criterion's question (the same
  template, the same two option orders and the same answer delimiting as ``SelfEvaluator``).
  Its reply is read from the logprobs in ``response_metadata`` when the provider returns them
  (a continuous score), else parsed from the text ("Yes"/"No", "(A)"/"(B)": a +1/-1 vote).
  Its calls are tagged ``nostream`` and run without the parent's callbacks, so the judge's
  tokens never show up in a parent graph's ``stream_mode="messages"``.
* ``ClassifierEvaluator``: any batch function ``fn(texts) -> [P(desired)]``, e.g. a safety
  classifier; probabilities in [0, 1] become scores ``2p - 1``.

(Another local model needs neither: ``SelfEvaluator(other_backend, ...)`` already is one.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rain_guard.errors import CriterionError
from rain_guard.judging.criteria import Criterion, check_orders, get_criterion
from rain_guard.judging.score_cache import ScoreCache
from rain_guard.messages import reply_text

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

# Config of the judge's calls: out of any parent stream (tag) and trace (no callbacks).
HIDDEN_CALL_CONFIG: dict[str, Any] = {"tags": ["nostream"], "callbacks": []}
_ROLE_CLASSES = {"system": "SystemMessage", "user": "HumanMessage", "assistant": "AIMessage"}
_WRAPPERS = "()[]*_`'\".:,;!?<>"


class ChatModelEvaluator:
    """Ask a LangChain chat model the criterion's question; +1 = the desired option.

    Args:
        model: Any ``BaseChatModel``. For a continuous score bind logprobs where the provider
            supports them (e.g. ``ChatOpenAI(...).bind(logprobs=True, top_logprobs=5)``).
        criterion: A built-in name or a ``Criterion``; its labels are the expected replies.
        orders: Option orders asked (both by default, which cancels a bias for one label).
        use_logprobs: Read label probabilities from ``response_metadata["logprobs"]`` when
            present; otherwise (or when False) parse the reply text.
        hide_from_stream: Tag calls ``nostream`` and drop the parent's callbacks.
        max_concurrency: Parallel requests of one ``score`` call (None: the model's default).
        cache_size: Scores kept by text: a repeated (request, answer) is not asked again.

    Attributes:
        unparsed: Replies that named neither label (they count as 0, undecided).
    """

    def __init__(
        self,
        model: BaseChatModel,
        criterion: str | Criterion = "harmless",
        *,
        orders: Sequence[int] = (0, 1),
        use_logprobs: bool = True,
        hide_from_stream: bool = True,
        max_concurrency: int | None = None,
        cache_size: int = 4096,
    ) -> None:
        self.model = model
        self.criterion = get_criterion(criterion)
        self.orders = check_orders(orders)
        self.use_logprobs = use_logprobs
        self.hide_from_stream = hide_from_stream
        self.max_concurrency = max_concurrency
        self.unparsed = 0
        self._cache = ScoreCache(cache_size)

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        """One score in [-1, 1] per answer: the mean desired share over orders, rescaled."""
        scores = self._cache.scores(prompt, answers, lambda todo: self._ask(prompt, todo))
        return [scores[a] for a in answers]

    def _ask(self, prompt: str, answers: list[str]) -> list[float]:
        """One model call per answer and order, batched; no cache."""
        jobs = [(a, order) for a in answers for order in self.orders]
        replies = self.model.batch(
            [self._messages(prompt, a, order) for a, order in jobs], config=self._config()
        )
        shares = [
            self._desired_share(r, order) for r, (_, order) in zip(replies, jobs, strict=True)
        ]
        k = len(self.orders)
        return [2.0 * sum(shares[i * k : (i + 1) * k]) / k - 1.0 for i in range(len(answers))]

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = dict(HIDDEN_CALL_CONFIG) if self.hide_from_stream else {}
        if self.max_concurrency is not None:
            config["max_concurrency"] = self.max_concurrency
        return config

    def _messages(self, prompt: str, answer: str, order: int) -> list[BaseMessage]:
        from langchain_core import messages

        turns = self.criterion.render_messages(prompt, answer, order)
        return [getattr(messages, _ROLE_CLASSES.get(role, "HumanMessage"))(t) for role, t in turns]

    def _desired_share(self, reply: Any, order: int) -> float:
        """Share of the desired label in ``reply`` (1, 0, a probability, or 0.5 if unknown)."""
        desired = self.criterion.desired_label(order)
        probs = _label_probs(reply, self.criterion.labels) if self.use_logprobs else None
        if probs is not None and sum(probs) > 0:
            return probs[desired] / sum(probs)
        index = parse_label(reply_text(reply), self.criterion.labels)
        if index is None:
            self.unparsed += 1
            return 0.5
        return 1.0 if index == desired else 0.0


class ClassifierEvaluator:
    """Wrap a batch classifier ``fn(texts) -> [P(desired)]`` (probabilities in [0, 1]).

    Args:
        fn: Called once per ``score`` with one text per answer; returns one probability each
            (values outside [0, 1] are clipped).
        text_of: Builds the classifier's input from ``(prompt, answer)``; the answer alone by
            default, since most response classifiers read only the response.
        name: Shown in reports.
    """

    def __init__(
        self,
        fn: Callable[[list[str]], Sequence[float]],
        *,
        text_of: Callable[[str, str], str] | None = None,
        name: str = "classifier",
    ) -> None:
        self.fn = fn
        self.text_of = text_of or (lambda prompt, answer: answer)
        self.name = name

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        """``2 * P(desired) - 1`` per answer, from one call of ``fn``.

        Raises:
            CriterionError: ``fn`` returned a different number of probabilities, or NaN.
        """
        if not answers:
            return []
        probs = [float(p) for p in self.fn([self.text_of(prompt, a) for a in answers])]
        if len(probs) != len(answers):
            raise CriterionError(
                f"{self.name}: got {len(probs)} probabilities for {len(answers)} texts"
            )
        if any(math.isnan(p) for p in probs):
            raise CriterionError(f"{self.name}: the classifier returned NaN")
        return [2.0 * min(1.0, max(0.0, p)) - 1.0 for p in probs]


def parse_label(reply: str, labels: Sequence[str]) -> int | None:
    """Index of the label a free-text reply gives, or None when it names neither.

    The first word decides when it is a label ("Yes.", "(B)", "**No**", "A) ..."), except that
    a bare one-letter word followed by more text on its line ("A good answer") is read as an
    article. Otherwise the first whole-word occurrence of a label decides, where one-letter
    labels count only in brackets ("I pick (A)").
    """
    wanted = [label.strip().strip(_WRAPPERS).lower() for label in labels]
    first_line = reply.strip().split("\n", 1)[0]
    words = first_line.split()
    if words:
        word = words[0].strip(_WRAPPERS).lower()
        article = len(word) == 1 and words[0] == word.upper() and len(words) > 1
        if word in wanted and not article:
            return wanted.index(word)
    best: tuple[int, int] | None = None
    for index, label in enumerate(wanted):
        pattern = (
            rf"\(\s*{re.escape(label)}\s*\)" if len(label) == 1 else rf"\b{re.escape(label)}\b"
        )
        match = re.search(pattern, reply, flags=re.IGNORECASE)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), index)
    if best is None and words and words[0].strip(_WRAPPERS).lower() in wanted:
        return wanted.index(words[0].strip(_WRAPPERS).lower())  # "A good answer": still "A"
    return None if best is None else best[1]


def _label_probs(reply: Any, labels: Sequence[str]) -> list[float] | None:
    """Label probabilities at the first reply position whose top logprobs name a label.

    Reads the OpenAI-style ``response_metadata["logprobs"]["content"]`` list: one entry per
    generated token with ``top_logprobs`` alternatives. Tokens are compared without case,
    spaces and brackets, so "Yes", " yes" and "(A" all count for their label.
    """
    metadata = getattr(reply, "response_metadata", None) or {}
    logprobs = metadata.get("logprobs") if isinstance(metadata, dict) else None
    content = logprobs.get("content") if isinstance(logprobs, dict) else logprobs
    if not isinstance(content, list):
        return None
    wanted = [label.strip().strip(_WRAPPERS).lower() for label in labels]
    for position in content:
        if not isinstance(position, dict):
            continue
        options = position.get("top_logprobs") or [position]
        probs = [0.0] * len(wanted)
        for option in options:
            token = str(option.get("token", "")).strip().strip(_WRAPPERS).lower()
            if token in wanted and option.get("logprob") is not None:
                probs[wanted.index(token)] += math.exp(float(option["logprob"]))
        if any(probs):
            return probs
    return None
