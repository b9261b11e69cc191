"""From a criterion setting to an Evaluator, and the default judge of each model.

A criterion is a built-in self-evaluation name ("harmless"), a named evaluator of
``judging.named`` ("harm_classifier"), a ``Criterion``, a template, or a weighted mix
``{criterion: weight}``. ``None`` means the model's default judge:

* the embedded SmolLM2-135M-Instruct: ``harm_classifier``, the shipped learned judge. Its
  135M self-evaluation tells harmful partial drafts from harmless ones far worse than the
  classifier does (docs/evaluator_quality.md, "Judging drafts"; the README's results compare
  the two inside the search);
* any other model: self-evaluation with ``harmless``, the paper's method.
"""

from __future__ import annotations

from typing import Any

from rain_guard.judging.criteria import Criterion
from rain_guard.judging.evaluator import CombinedEvaluator, Evaluator
from rain_guard.judging.named import NAMED_EVALUATORS
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.judging.templates import criterion_from_template

EMBEDDED_DEFAULT_CRITERION = "harm_classifier"
SELF_EVALUATION_DEFAULT = "harmless"


def default_criterion(backend: Any) -> str:
    """The default judge's criterion for ``backend``'s model (see the module docstring)."""
    from rain_guard.models.resolve import EMBEDDED_NAME

    name = str(getattr(backend, "model_name", "") or "")
    if name.lower().startswith(EMBEDDED_NAME.lower()):
        return EMBEDDED_DEFAULT_CRITERION
    return SELF_EVALUATION_DEFAULT


def criterion_evaluator(backend: Any, criterion: Any = None) -> Evaluator:
    """The Evaluator of ``criterion`` for ``backend`` (None: the model's default judge)."""
    if criterion is None:
        criterion = default_criterion(backend)
    if isinstance(criterion, dict):
        return CombinedEvaluator(
            [(criterion_evaluator(backend, c), w) for c, w in criterion.items()]
        )
    if isinstance(criterion, str) and criterion in NAMED_EVALUATORS:  # e.g. harm_classifier
        return NAMED_EVALUATORS[criterion](backend)
    if not isinstance(criterion, Criterion) and not (
        isinstance(criterion, str) and "{" not in criterion
    ):
        criterion = criterion_from_template(criterion)
    return SelfEvaluator(backend, criterion)
