"""Criterion: what "good" means to the evaluator (a template, two options and their labels).

A criterion is asked in two orders so that the model's preference for a position or a word
cancels out (the reference's de-biasing):

* order 0: ``{option_a}`` = the desired description; the desired reply is ``labels[0]``.
* order 1: ``{option_a}`` = the undesired description; the desired reply is ``labels[1]``.

With A/B templates this swaps the options; with yes/no templates it asks "is it harmless?"
and "is it harmful?". Built-ins: ``harmless`` (the default), ``helpful``, ``truthful``.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

from rain_guard.errors import CriterionError
from rain_guard.judging import prompts
from rain_guard.judging.forgery import delimit_answer


@dataclass(frozen=True)
class Criterion:
    """An evaluation prompt template with its options and reply labels.

    Attributes:
        name: Short name shown in traces and reports.
        template: Text with placeholders (see ``rain_guard.prompts``), or ``(role, text)``
            pairs for a multi-turn evaluator prompt; needs {answer} and {option_a} somewhere.
        desired: Description of the quality wanted, e.g. "harmless".
        undesired: Description of its opposite, e.g. "harmful".
        labels: Reply words (order 0 desired, order 1 desired); each must be one token.
        chat: Render the template as a user turn through the model's chat template.
        response_prefix: Text placed where the evaluator's reply starts, before the label.
        calibrate: Whether ``SelfEvaluator`` calibrates this criterion's scores by default
            (subtracts the score of ``content_free``, multiplies by ``calibration_scale``).
        content_free: The content-free answer of contextual calibration.
        calibration_scale: Default stretch of calibrated scores, chosen on dev data for the
            built-ins (see docs/evaluator_quality.md).
        orders: Orders ``SelfEvaluator`` asks by default: both (de-biased) or, where one
            phrasing measured better on the target model, only that one (half the cost).
    """

    name: str
    template: str | tuple[tuple[str, str], ...]
    desired: str
    undesired: str
    labels: tuple[str, str] = ("Yes", "No")
    chat: bool = True
    response_prefix: str = ""
    calibrate: bool = False
    content_free: str = ""
    calibration_scale: float = 1.0
    orders: tuple[int, ...] = (0, 1)

    def __post_init__(self) -> None:
        fields = set().union(*(_placeholders(text) for _, text in self.turns()))
        missing = prompts.REQUIRED_PLACEHOLDERS - fields
        if missing:
            raise CriterionError(
                f"criterion {self.name!r}: template lacks placeholder(s) "
                + ", ".join("{" + m + "}" for m in sorted(missing))
            )
        unknown = fields - prompts.KNOWN_PLACEHOLDERS
        if unknown:
            raise CriterionError(
                f"criterion {self.name!r}: unknown placeholder(s) "
                + ", ".join("{" + u + "}" for u in sorted(unknown))
                + f"; known: {sorted(prompts.KNOWN_PLACEHOLDERS)}"
            )
        if len(self.labels) != 2 or any(not label.strip() for label in self.labels):
            raise CriterionError(f"criterion {self.name!r}: labels must be two non-blank strings")
        if self.labels[0] == self.labels[1]:
            raise CriterionError(f"criterion {self.name!r}: both labels are {self.labels[0]!r}")
        if not self.calibration_scale > 0:
            raise CriterionError(f"criterion {self.name!r}: calibration_scale must be > 0")
        try:
            check_orders(self.orders)
        except CriterionError as exc:
            raise CriterionError(f"criterion {self.name!r}: {exc}") from None

    def turns(self) -> tuple[tuple[str, str], ...]:
        """The template as ``(role, text)`` turns (a plain template is one user turn)."""
        if isinstance(self.template, str):
            return (("user", self.template),)
        return tuple((role, text) for role, text in self.template)

    def render_messages(self, prompt: str, answer: str, order: int) -> list[tuple[str, str]]:
        """The evaluation turns for ``answer`` to ``prompt`` in option ``order`` (0 or 1)."""
        first, second = (
            (self.desired, self.undesired) if order == 0 else (self.undesired, self.desired)
        )
        values = {
            "prompt": prompt.strip(),
            "answer": delimit_answer(answer),
            "option_a": first,
            "option_b": second,
            "desired_label": self.labels[self.desired_label(order)],
            "undesired_label": self.labels[1 - self.desired_label(order)],
        }
        return [(role, text.format(**values)) for role, text in self.turns()]

    def render(self, prompt: str, answer: str, order: int) -> str:
        """The evaluation prompt as one text (turns joined by blank lines)."""
        return "\n\n".join(text for _, text in self.render_messages(prompt, answer, order))

    def desired_label(self, order: int) -> int:
        """Index into ``labels`` of the desired reply in ``order``."""
        return order


def check_orders(orders: Sequence[int]) -> tuple[int, ...]:
    """``orders`` as a tuple of distinct values of 0 and 1 (at least one).

    Raises:
        CriterionError: empty, repeated or other values.
    """
    out = tuple(orders)
    if not out or len(set(out)) != len(out) or not set(out) <= {0, 1}:
        raise CriterionError(f"orders must be distinct values of 0 and 1, got {orders!r}")
    return out


def _placeholders(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise CriterionError(f"template is not a valid format string: {exc}") from exc


# The default harmless criterion, chosen on dev data (docs/evaluator_quality.md): a few-shot
# yes/no chat prompt, asked only as "Is this answer harmful, dangerous or unethical?" (order 1):
# on SmolLM2-135M the "harmless?" phrasing is anti-informative (the model answers "No" to
# refusals whatever the question), so averaging both orders destroys the signal. The raw score
# of the content-free answer "" to the same request is subtracted (contextual calibration) and
# the difference is multiplied by CALIBRATION_SCALE, which puts the median clear refusal to an
# unsafe request near the search's commit threshold V_threshold = 0.8 (the medians it was
# derived from: docs/evaluator_quality.md, "The default and its calibration").
CONTENT_FREE_ANSWER = ""
CALIBRATION_SCALE = 3.0
HARMLESS_ORDERS = (1,)


def _few_shot(
    name: str,
    options: tuple[str, str],
    examples: tuple[tuple[str, str, bool], ...],
    system: str,
    orders: tuple[int, ...] = (0, 1),
) -> Criterion:
    return Criterion(
        name,
        prompts.few_shot_yes_no_turns(examples, system),
        *options,
        labels=("Yes", "No"),
        calibrate=True,
        content_free=CONTENT_FREE_ANSWER,
        calibration_scale=CALIBRATION_SCALE,
        orders=orders,
    )


BUILTIN_CRITERIA: dict[str, Criterion] = {
    "harmless": _few_shot(
        "harmless",
        prompts.HARMLESS,
        prompts.FEW_SHOT_EXAMPLES,
        prompts.JUDGE_SYSTEM,
        HARMLESS_ORDERS,
    ),
    # Same style, unmeasured (no labelled dev data here): both orders, the harmless scale.
    "helpful": _few_shot(
        "helpful", prompts.HELPFUL, prompts.HELPFUL_EXAMPLES, prompts.JUDGE_SYSTEM_HELPFUL
    ),
    "truthful": _few_shot(
        "truthful", prompts.TRUTHFUL, prompts.TRUTHFUL_EXAMPLES, prompts.JUDGE_SYSTEM_TRUTHFUL
    ),
    # Zero-shot yes/no, both phrasings averaged, uncalibrated.
    "harmless_zeroshot": Criterion("harmless_zeroshot", prompts.YES_NO_QUESTION, *prompts.HARMLESS),
    "harmless_ab": Criterion(
        "harmless_ab", prompts.AB_CHOICE, *prompts.HARMLESS, labels=("A", "B"), response_prefix="("
    ),
    # The RAIN paper's style: worked examples, options (A)/(B), plain text (no chat turns).
    "harmless_fewshot": Criterion(
        "harmless_fewshot",
        prompts.few_shot_ab_template(),
        *prompts.HARMLESS,
        labels=("A", "B"),
        chat=False,
    ),
}


def get_criterion(name_or_criterion: str | Criterion) -> Criterion:
    """A built-in criterion by name, or the given criterion unchanged.

    Raises:
        CriterionError: the name is not a built-in.
    """
    if isinstance(name_or_criterion, Criterion):
        return name_or_criterion
    try:
        return BUILTIN_CRITERIA[name_or_criterion]
    except KeyError:
        raise CriterionError(
            f"unknown criterion {name_or_criterion!r}; built-ins: {sorted(BUILTIN_CRITERIA)}"
        ) from None
