"""Evaluators turn (request, partial answer) pairs into scores in [-1, 1] (+1 = desired).

The search only knows the ``Evaluator`` protocol, so the judge can be the generating model
itself (``SelfEvaluator``, RAIN's self-evaluation and the default), any other backend, or any
Python function such as a classifier (``FunctionEvaluator``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Literal, Protocol, runtime_checkable

from rain_guard.backends.base import Backend
from rain_guard.criteria import Criterion, get_criterion
from rain_guard.errors import CriterionError

ScoreMode = Literal["probability", "vote"]


@runtime_checkable
class Evaluator(Protocol):
    """Scores partial answers; higher is better."""

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        """One score in [-1, 1] per answer to ``prompt``."""


class SelfEvaluator:
    """RAIN's self-evaluation: a backend answers the criterion's question in both orders.

    Args:
        backend: The model that judges (usually the one that generates).
        criterion: A built-in name or a ``Criterion``.
        mode: "probability" (default) averages the desired option's normalised probability
            over both orders, a continuous score; "vote" is the reference's binary vote
            (+1 if both orders prefer the desired option, -1 if neither, else 0).
        calibrate: Subtract the score of a content-free answer to the same request
            (contextual calibration), then multiply by ``calibration_scale`` and clip.
        calibration_scale: Stretch of calibrated scores (the raw differences are small).
        cache_size: Evaluations kept by text (the same text is never judged twice).
    """

    def __init__(
        self,
        backend: Backend,
        criterion: str | Criterion = "harmless",
        *,
        mode: ScoreMode = "probability",
        calibrate: bool = False,
        calibration_scale: float = 1.0,
        cache_size: int = 4096,
    ) -> None:
        if mode not in ("probability", "vote"):
            raise CriterionError(f"unknown score mode {mode!r}; use 'probability' or 'vote'")
        self.backend = backend
        self.criterion = get_criterion(criterion)
        self.mode: ScoreMode = mode
        self.calibrate = calibrate
        self.calibration_scale = calibration_scale
        self._cache: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._cache_size = cache_size
        self._option_ids = option_token_ids(backend, self.criterion)

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        """Scores in [-1, 1]; identical (prompt, answer) pairs come from the cache."""
        todo = list(dict.fromkeys(a for a in answers if (prompt, a) not in self._cache))
        self.backend.counters.evaluation_cache_hits += len(answers) - len(todo)
        if self.calibrate and (prompt, "") not in self._cache and "" not in todo:
            todo.append("")
        fresh = dict(zip(todo, self._raw_scores(prompt, todo), strict=True)) if todo else {}
        for answer, raw in fresh.items():
            self._remember((prompt, answer), raw)

        def raw_score(answer: str) -> float:
            return fresh[answer] if answer in fresh else self._cache[(prompt, answer)]

        base = raw_score("") if self.calibrate else None
        return [self._final(raw_score(a), base) for a in answers]

    def _raw_scores(self, prompt: str, answers: list[str]) -> list[float]:
        rows = [self._prompt_ids(prompt, a, order) for a in answers for order in (0, 1)]
        probs = self.backend.option_probs(rows, self._option_ids)
        self.backend.counters.evaluation_prompts += len(rows)
        scores = []
        for i in range(len(answers)):
            per_order = [_desired_share(probs[2 * i + order], order, self.mode) for order in (0, 1)]
            scores.append(sum(per_order) - 1.0)  # mean share in [0, 1] -> [-1, 1]
        return scores

    def _prompt_ids(self, prompt: str, answer: str, order: int) -> list[int]:
        if self.criterion.chat:
            ids = self.backend.chat_prompt_ids(self.criterion.render_messages(prompt, answer, order))
        else:
            ids = self.backend.tokenize(self.criterion.render(prompt, answer, order))
        if self.criterion.response_prefix:
            ids = ids + self.backend.tokenize(self.criterion.response_prefix)
        return ids

    def _final(self, raw: float, base: float | None) -> float:
        if base is None:
            return raw
        return max(-1.0, min(1.0, (raw - base) * self.calibration_scale))

    def _remember(self, key: tuple[str, str], value: float) -> None:
        self._cache[key] = value
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


class FunctionEvaluator:
    """Wraps ``fn(prompt, answer) -> float in [-1, 1]``: a classifier, a rule, a remote judge."""

    def __init__(self, fn: Callable[[str, str], float], name: str = "function") -> None:
        self.fn = fn
        self.name = name

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        return [max(-1.0, min(1.0, float(self.fn(prompt, a)))) for a in answers]


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


def _desired_share(probs: Sequence[float], order: int, mode: ScoreMode) -> float:
    desired, other = probs[order], probs[1 - order]
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
