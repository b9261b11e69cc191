"""Evaluators turn (request, partial answer) pairs into scores in [-1, 1] (+1 = desired).

The search only knows the ``Evaluator`` protocol, so the judge can be the generating model
itself (``SelfEvaluator``, RAIN's self-evaluation and the default), any other backend, any
Python function (``FunctionEvaluator``), a LangChain chat model or a batch classifier
(``rain_guard.judges_as_evaluators``).

How well a variant separates harmful from harmless answers, and at what cost, is measured by
``rain-guard eval evaluator`` (``rain_guard.eval.evaluator_quality``; numbers in
docs/evaluator_quality.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol, runtime_checkable

from rain_guard.backends.base import Backend
from rain_guard.errors import ConfigError, CriterionError
from rain_guard.judging.criteria import Criterion, check_orders, get_criterion
from rain_guard.judging.score_cache import ScoreCache

ScoreMode = Literal["probability", "vote"]


@runtime_checkable
class Evaluator(Protocol):
    """Scores partial answers; higher is better."""

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        """One score in [-1, 1] per answer to ``prompt``."""


class SelfEvaluator:
    """RAIN's self-evaluation: a backend answers the criterion's question (in both orders).

    Args:
        backend: The model that judges (usually the one that generates).
        criterion: A built-in name or a ``Criterion``.
        mode: "probability" (default) averages the desired option's normalised probability
            over the orders, a continuous score; "vote" is the reference's binary vote
            (+1 if both orders prefer the desired option, -1 if neither, else 0).
        calibrate: Subtract the score of a content-free answer to the same request
            (contextual calibration), then multiply by ``calibration_scale`` and clip to
            [-1, 1]. None: the criterion's default (on for the built-ins).
        calibration_scale: Stretch of calibrated scores (raw differences are small on small
            models). None: the criterion's default.
        content_free: The content-free answer (None: the criterion's, "" for the built-ins).
        orders: Option orders asked: both (de-biased) or one of them (half the cost). None:
            the criterion's default.
        cache_size: Evaluations kept by text (the same text is never judged twice).
    """

    def __init__(
        self,
        backend: Backend,
        criterion: str | Criterion = "harmless",
        *,
        mode: ScoreMode = "probability",
        calibrate: bool | None = None,
        calibration_scale: float | None = None,
        content_free: str | None = None,
        orders: Sequence[int] | None = None,
        cache_size: int = 4096,
    ) -> None:
        if mode not in ("probability", "vote"):
            raise CriterionError(f"unknown score mode {mode!r}; use 'probability' or 'vote'")
        self.backend = backend
        self.criterion = get_criterion(criterion)
        self.mode: ScoreMode = mode
        self.calibrate = self.criterion.calibrate if calibrate is None else calibrate
        self.calibration_scale = (
            self.criterion.calibration_scale if calibration_scale is None else calibration_scale
        )
        self.content_free = self.criterion.content_free if content_free is None else content_free
        self.orders = check_orders(self.criterion.orders if orders is None else orders)
        self._cache = ScoreCache(cache_size)
        self._option_ids = option_token_ids(backend, self.criterion)
        self._pinned = False
        self._pinned_lengths = [0] * len(self.orders)  # tokens of each order's pinned prefix

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        """Scores in [-1, 1]; identical (prompt, answer) pairs come from the cache."""
        self.backend.counters.evaluation_cache_hits += len(answers) - len(
            self._cache.missing(prompt, answers)
        )
        wanted = [*answers, self.content_free] if self.calibrate else list(answers)
        raw = self._cache.scores(prompt, wanted, lambda todo: self._raw_scores(prompt, todo))
        base = raw[self.content_free] if self.calibrate else None
        return [self._final(raw[a], base) for a in answers]

    def _raw_scores(self, prompt: str, answers: list[str]) -> list[float]:
        """Uncalibrated scores: 2 * (mean desired share over the orders) - 1."""
        orders = self.orders
        self._pin_fixed_prefixes()
        rows = [self._prompt_ids(prompt, a, order) for a in answers for order in orders]
        probs = self._option_probs(rows, len(orders))
        self.backend.counters.evaluation_prompts += len(rows)
        k = len(orders)
        scores = []
        for i in range(len(answers)):
            shares = [
                _desired_share(probs[k * i + j], self.criterion.desired_label(order), self.mode)
                for j, order in enumerate(orders)
            ]
            scores.append(2.0 * sum(shares) / k - 1.0)  # mean share in [0, 1] -> [-1, 1]
        return scores

    def _option_probs(self, rows: list[list[int]], k: int) -> list[list[float]]:
        """Option probabilities of answer-major ``rows`` (``k`` orders per answer).

        One batched call, unless the orders part early (few-shot examples whose verdicts
        follow the order) and one call per order feeds fewer tokens: then each order's rows
        go on its own pinned prefix (or share one computation of it), where a batched call
        can reuse only the prefix all rows share. A backend that continues each row of a
        batch on its own kept prefix (``reuses_prefix_per_row``) takes one answer's orders
        in one call all the same (a search evaluates one answer at a time).
        """
        by_order = [rows[j::k] for j in range(k)]
        cached = self._pinned_lengths
        per_row = getattr(self.backend, "reuses_prefix_per_row", False)
        one_call = k == 1 or (per_row and len(rows) == k)  # one answer: one row per order
        if one_call or _split_cost(rows, by_order, cached) >= _batch_cost(rows, max(cached)):
            return self.backend.option_probs(rows, self._option_ids)
        per_order = [self.backend.option_probs(group, self._option_ids) for group in by_order]
        return [per_order[j][i] for i in range(len(rows) // k) for j in range(k)]

    def _prompt_ids(self, prompt: str, answer: str, order: int) -> list[int]:
        return evaluation_prompt_ids(self.backend, self.criterion, prompt, answer, order)

    def _pin_fixed_prefixes(self) -> None:
        """Once: have the backend keep each order's request-independent prompt prefix.

        That prefix (judge instructions, worked examples; ~540 tokens for ``harmless``) is
        then computed once per run instead of once per answer. It is found as the common
        ids of two renders with different requests; the backend reuses caches by comparing
        ids, so a request whose first token merges with the template is still scored right.
        """
        pin = getattr(self.backend, "pin_prefix", None)
        if pin is None or self._pinned:
            return
        self._pinned = True
        for j, order in enumerate(self.orders):
            renders = [self._prompt_ids(text, text, order) for text in ("A", "B")]
            shared = _common_prefix(renders)
            if shared > 0:
                pin(renders[0][:shared])
                self._pinned_lengths[j] = shared

    def _final(self, raw: float, base: float | None) -> float:
        if base is None:
            return raw
        return max(-1.0, min(1.0, (raw - base) * self.calibration_scale))


class FunctionEvaluator:
    """Wraps ``fn(prompt, answer) -> float in [-1, 1]``: a classifier, a rule, a remote judge.

    A score outside [-1, 1] raises ``ConfigError`` rather than being clipped.
    """

    def __init__(self, fn: Callable[[str, str], float], name: str = "function") -> None:
        self.fn = fn
        self.name = name

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        """``fn``'s score of each answer.

        Raises:
            ConfigError: ``fn`` returned a score outside [-1, 1], or NaN (clipping it would
                hide a judge that scores on another scale).
        """
        scores = [float(self.fn(prompt, a)) for a in answers]
        for answer, value in zip(answers, scores, strict=True):
            if not -1.0 <= value <= 1.0:
                raise ConfigError(
                    f"evaluator {self.name!r} scored {value} for the answer {answer!r:.60}; "
                    "scores must lie in [-1, 1] (for a probability p, return 2 * p - 1)"
                )
        return scores


def option_token_ids(backend: Backend, criterion: Criterion) -> list[int]:
    """The single token id of each label, looked up through the tokenizer.

    Raises:
        CriterionError: a label is several tokens, or both labels are the same token.
    """
    ids = []
    for label in criterion.labels:
        toks = backend.tokenize(label)
        if len(toks) != 1:
            raise CriterionError(
                f"criterion {criterion.name!r}: label {label!r} is {len(toks)} tokens for "
                f"{backend.model_name}; labels must be exactly one token"
            )
        ids.append(toks[0])
    if ids[0] == ids[1]:
        raise CriterionError(
            f"criterion {criterion.name!r}: labels {criterion.labels} are the same token"
        )
    return ids


def _common_prefix(rows: Sequence[Sequence[int]]) -> int:
    first, n = rows[0], min(len(r) for r in rows)
    for i in range(n):
        if any(r[i] != first[i] for r in rows[1:]):
            return i
    return n


def _batch_cost(rows: Sequence[Sequence[int]], cached: int = 0) -> int:
    """Tokens fed when ``rows`` share one call.

    Their common prefix once, less the ``cached`` tokens of it the backend holds, then every
    row's suffix.
    """
    common = _common_prefix(rows)
    return max(0, common - cached) + sum(len(r) - common for r in rows)


def _split_cost(
    rows: Sequence[Sequence[int]],
    groups: Sequence[Sequence[Sequence[int]]],
    cached: Sequence[int],
) -> int:
    """Tokens fed when each group is its own call.

    The prefix all rows share is fed once (beyond what is cached); each group then feeds
    what follows that prefix or its own ``cached`` prefix (a pinned one), whichever is longer.
    """
    common = _common_prefix(rows)
    cost = max(0, common - max(cached))
    for group, held in zip(groups, cached, strict=True):
        cost += _batch_cost(group, max(common, held))
    return cost


def evaluation_prompt_ids(
    backend: Backend, criterion: Criterion, prompt: str, answer: str, order: int
) -> list[int]:
    """Token ids of the criterion's question about ``answer`` in option ``order``."""
    if criterion.chat:
        ids = backend.chat_prompt_ids(criterion.render_messages(prompt, answer, order))
    else:
        ids = backend.tokenize(criterion.render(prompt, answer, order))
    if criterion.response_prefix:
        ids = ids + backend.tokenize(criterion.response_prefix)
    return ids


def _desired_share(probs: Sequence[float], desired_index: int, mode: ScoreMode) -> float:
    desired, other = probs[desired_index], probs[1 - desired_index]
    if mode == "vote":
        return 1.0 if desired > other else 0.0
    total = desired + other
    return desired / total if total > 0 else 0.5


class CombinedEvaluator:
    """Weighted mean of several evaluators' scores (weights need not sum to 1).

    Args:
        parts: ``(evaluator, weight)`` pairs; weights must be positive.
    """

    def __init__(self, parts: Sequence[tuple[Evaluator, float]]) -> None:
        if not parts or any(w <= 0 for _, w in parts):
            raise CriterionError("combine at least one evaluator, each with a positive weight")
        self.parts = list(parts)
        self._total = sum(w for _, w in parts)

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        totals = [0.0] * len(answers)
        for evaluator, weight in self.parts:
            for i, s in enumerate(evaluator.score(prompt, answers)):
                totals[i] += weight * s
        return [t / self._total for t in totals]
