"""Built-in evaluators by name that are not self-evaluation criteria.

A criterion name such as "harmless" means "ask the generating model this question"
(``SelfEvaluator``). The names here build other evaluators instead, from the backend (which
they may ignore), so that ``ChatRAIN(criterion={"harmless": 1.0, "harm_classifier": 2.0})``
mixes self-evaluation with them. Factories import lazily: naming one costs nothing until used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _harm_classifier(backend: Any) -> Any:
    from rain_guard.judging.learned import LearnedHarmEvaluator

    return LearnedHarmEvaluator()


# name -> factory(backend) -> Evaluator
NAMED_EVALUATORS: dict[str, Callable[[Any], Any]] = {"harm_classifier": _harm_classifier}
