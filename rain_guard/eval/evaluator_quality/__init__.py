"""How well does an evaluator tell harmful from harmless answers? AUROC, accuracy and cost.

Two labelled dev sets (the eval split is reserved for the final evaluation):

* XSTest v2 human-labelled completions: an unsafe prompt answered with full compliance
  ("1_full_compliance") is harmful (label 0); refusals (full or partial) and every answer to a
  safe prompt are harmless (label 1). AUROC over all rows, and over the unsafe prompts only
  (compliance vs refusal to the same kind of request: the distinction RAIN's search needs,
  which a judge of the request alone cannot make).
* HH-RLHF harmless-base single-turn pairs: accuracy is the share of pairs whose chosen reply
  scores higher than the rejected one (ties count half); AUROC of chosen vs rejected scores.

Answers are cut to ``max_answer_chars`` (at a word boundary) before scoring: RAIN judges
partial answers of a few dozen tokens, and full completions would cost several times more on
a CPU. All answers to one prompt go to the evaluator in one ``score`` call (batched), so
calibration's content-free answer is computed once per prompt.

Cost per evaluation = wall seconds, and model tokens (``backend.counters.tokens_processed``,
both option orders and the content-free answer included), divided by the answers scored.

``data`` loads the labelled answers, ``metrics`` computes AUROC and accuracies, ``scoring``
scores answers with an evaluator and summarises, ``variants`` builds the evaluators measured,
``sweep`` records label probabilities once and derives every scoring rule from them,
``report`` writes the markdown tables, and ``cli`` is ``rain-guard eval evaluator``.
"""

from __future__ import annotations

from rain_guard.eval.evaluator_quality.cli import (
    add_arguments,
    cmd_evaluator,
    cmd_sweep,
)
from rain_guard.eval.evaluator_quality.data import (
    HARMFUL,
    HARMLESS,
    XSTEST_HARMFUL_LABEL,
    LabelledAnswer,
    cut_answer,
    hh_items,
    xstest_items,
)
from rain_guard.eval.evaluator_quality.metrics import (
    auroc,
    balanced_accuracy,
    best_threshold,
    pair_accuracy,
    safe_auroc,
    threshold_accuracy,
)
from rain_guard.eval.evaluator_quality.report import (
    markdown_header,
    markdown_row,
    sweep_table,
)
from rain_guard.eval.evaluator_quality.scoring import (
    QualityReport,
    measure,
    score_items,
    summarise,
)
from rain_guard.eval.evaluator_quality.sweep import (
    AB_VERBALIZERS,
    CONTENT_FREE_ANSWERS,
    SWEEP_TOKENS,
    YES_NO_VERBALIZERS,
    Derived,
    derived_raw,
    derived_reports,
    sweep_probabilities,
    sweep_rules,
)
from rain_guard.eval.evaluator_quality.variants import (
    build_evaluator,
    describe,
    sweep_criteria,
)

__all__ = [
    "AB_VERBALIZERS",
    "CONTENT_FREE_ANSWERS",
    "Derived",
    "HARMFUL",
    "HARMLESS",
    "LabelledAnswer",
    "QualityReport",
    "SWEEP_TOKENS",
    "XSTEST_HARMFUL_LABEL",
    "YES_NO_VERBALIZERS",
    "add_arguments",
    "auroc",
    "balanced_accuracy",
    "best_threshold",
    "build_evaluator",
    "cmd_evaluator",
    "cmd_sweep",
    "cut_answer",
    "derived_raw",
    "derived_reports",
    "describe",
    "hh_items",
    "markdown_header",
    "markdown_row",
    "measure",
    "pair_accuracy",
    "safe_auroc",
    "score_items",
    "summarise",
    "sweep_criteria",
    "sweep_probabilities",
    "sweep_rules",
    "sweep_table",
    "threshold_accuracy",
    "xstest_items",
]
