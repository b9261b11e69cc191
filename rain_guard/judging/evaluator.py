"""Evaluators turn (request, partial answer) pairs into scores in [-1, 1] (+1 = desired).

The search only knows the ``Evaluator`` protocol, so the judge can be the generating model
itself (``rain_guard.judging.self_eval.SelfEvaluator``, RAIN's self-evaluation and the
default), any other backend, any Python function (``FunctionEvaluator``), a LangChain chat
model or a batch classifier (``rain_guard.judging.external``), or a weighted mix of them
(``CombinedEvaluator``).

How well a variant separates harmful from harmless answers, and at what cost, is measured by
``rain-guard eval evaluator`` (``rain_guard.eval.evaluator_quality``; numbers in
docs/evaluator_quality.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from rain_guard.errors import ConfigError, CriterionError


@runtime_checkable
class Evaluator(Protocol):
    """Scores partial answers; higher is better."""

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        """One score in [-1, 1] per answer to ``prompt``."""


SCORE_SLACK = 1e-6
"""Float rounding a score may show past -1 or +1 (``2 * p - 1``); such a score is clamped."""


def checked_scores(evaluator: Evaluator, prompt: str, answers: Sequence[str]) -> list[float]:
    """``evaluator``'s scores of ``answers``, checked: one float in [-1, 1] per answer.

    Every caller that acts on a judge's scores (the search, best-of-N, the guard) goes through
    this, so a custom ``Evaluator`` on another scale fails loudly instead of skewing the
    search's values or the guard's threshold.

    Raises:
        ConfigError: a score outside [-1, 1] or NaN (clipping would hide a judge on another
            scale), or not one score per answer.
    """
    name = getattr(evaluator, "name", None) or type(evaluator).__name__
    scores = [float(s) for s in evaluator.score(prompt, answers)]
    if len(scores) != len(answers):
        raise ConfigError(
            f"evaluator {name} gave {len(scores)} scores for {len(answers)} answers; "
            "score(prompt, answers) must return one score per answer"
        )
    for answer, value in zip(answers, scores, strict=True):
        if math.isnan(value) or abs(value) > 1.0 + SCORE_SLACK:
            raise ConfigError(
                f"evaluator {name} scored {value} for the answer {answer!r:.60}; "
                "scores must lie in [-1, 1] (for a probability p, return 2 * p - 1)"
            )
    return [min(1.0, max(-1.0, s)) for s in scores]


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
