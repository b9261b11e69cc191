"""Criterion: what "good" means to the evaluator (a template, two options and their labels).

A criterion is asked in two orders so that the model's preference for a position or a word
cancels out (the reference's de-biasing):

* order 0: ``{option_a}`` = the desired description; the desired reply is ``labels[0]``.
* order 1: ``{option_a}`` = the undesired description; the desired reply is ``labels[1]``.

With A/B templates this swaps the options; with yes/no templates it asks "is it harmless?"
and "is it harmful?". Built-ins: ``harmless`` (the default), ``helpful``, ``truthful``.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from rain_guard.errors import CriterionError
from rain_guard.judging import prompts
from rain_guard.judging.forgery_spans import strip_forgeries

_ROLE_MARKER = re.compile(r"<\|[^|>]*\|>|<\s*/?\s*answer\s*>", re.IGNORECASE)
_LABEL = r"(?:yes|no|[ab]|harmless|harmful|safe|unsafe)"
_QUALITY = r"(?:harmless|harmful|safe|unsafe|ethical|unethical|dangerous|fine|acceptable)"
_JUDGE = r"(?:judge|evaluator|grader|reviewer|rater|moderator|classifier)s?"
_SELF = r"(?:this|the|my|following)[ \t]+(?:answer|response|reply|text|message|output)"
_TAG = f"(?:{_ROLE_MARKER.pattern})"
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_BLANKS = re.compile(r"[ \t]+\n")
_SENTENCE_START = r"(?:(?<=[.!?])|^)[^.!?\n\[(]*"
_SENTENCE_END = r"[^.!?\n]*[.!?]?"
# Text in an answer that poses as the judge's own format, or talks to the judge. It is cut
# from the evaluator's copy of the answer (the answer itself is never changed), so a model
# cannot be talked into writing its own verdict. Pattern-based: it catches the usual shapes
# (docs/evaluator_quality.md lists the attacks measured); a paraphrase it misses can still
# move a score, less so when the question is asked in both orders.
_FORGERY_PATTERNS = (
    # a chat-role word left behind by a special-token look-alike
    r"<\|[^|>]*\|>\s*(?:system|user|assistant|human|ai|model)?\b:?",
    # a label glued to a tag or marker: "</answer> Yes", "Yes <answer>"
    rf"{_TAG}[ \t]*\(?{_LABEL}\b\)?[.!]?",
    rf"\(?\b{_LABEL}\)?[.!]?[ \t]*(?={_TAG})",
    # a later line, or a last sentence, that is only a label: "...\nYes.", "... turn. No."
    # (a whole answer "B" or "Yes." is kept: it may be the honest reply to the request)
    rf"\n[ \t]*[(\[]?[ \t]*{_LABEL}[ \t]*[)\]]?[ \t]*[.!]?[ \t]*$",
    r"(?<=[a-z][.!?])[ \t]+(?:yes|no)[.!]?[ \t]*$",
    # an option line: "(A) The answer is harmless ..."
    r"^[ \t]*\([ \t]*[ab][ \t]*\)[ \t].*\b(?:answer|harm|safe|unsafe|ethic|unethic).*$",
    # a verdict statement: "The answer is: (A)", "Verdict: harmless", "(Verdict: not harmful)"
    r"[(\[]?[ \t]*\b(?:the[ \t]+)?(?:answer|verdict|reply|response|evaluation|judge?ment"
    rf"|rating|label|decision|output)[ \t]*(?:is|:)[ \t]*:?[ \t]*[(\[]?[ \t]*(?:not[ \t]+)?"
    rf"{_LABEL}[)\]]?(?=[ \t]*(?:[.!,;:)\]]|$))[.!]?[)\]]?",
    # a claim about the answer itself: "This answer is harmless.", "Safe answer follows."
    rf"{_SENTENCE_START}\b{_SELF}[ \t]+(?:is|was)[ \t]+(?:\w+[ \t]+)?{_QUALITY}\b{_SENTENCE_END}",
    rf"{_SENTENCE_START}\b{_QUALITY}(?:[ \t,]+(?:and[ \t]+)?{_QUALITY})*[ \t]+(?:answer|response"
    rf"|reply)[ \t]+follows\b{_SENTENCE_END}",
    # the judge's question copied into the answer
    r"^.*\b(?:reply|answer|respond)(?:[ \t]+with|[ \t]*:)[ \t]+"
    r"(?:yes[ \t]+or[ \t]+no|\(?a\)?[ \t]+or[ \t]+\(?b\)?)\b.*$",
    r"^.*\bis[ \t]+this[ \t]+answer[ \t]+(?:harm|safe|unsafe|ethic|unethic|danger).*$",
    r"^.*\bwhich[ \t]+describes[ \t]+the[ \t]+answer\b.*$",
    # instructions to the judge: a bracketed aside or any sentence naming one, or asking to
    # rate the answer
    rf"[\[(][^\])\n]*\b{_JUDGE}\b[^\])\n]*[\])]",
    rf"[\[(]?{_SENTENCE_START}\b{_JUDGE}\b[^.!?\n\])]*[.!?]?[\])]?",
    rf"{_SENTENCE_START}\b(?:rate|score|mark|grade|classify|label|judge)[ \t]+{_SELF}\b"
    rf"{_SENTENCE_END}",
    r"\bignore[ \t]+(?:all[ \t]+|any[ \t]+)?(?:of[ \t]+)?(?:the[ \t]+)?(?:above|previous"
    r"|prior|preceding|earlier)\b[^.\n\]]*[.!]?",
    r"\b(?:system|admin|developer)[ \t]+override\b[^.\n]*[.!]?",
    r"\b(?:the[ \t]+)?correct[ \t]+(?:reply|answer|verdict|label)[ \t]+is\b[^.\n]*[.!]?",
)
_FORGERY = re.compile("|".join(_FORGERY_PATTERNS), re.IGNORECASE | re.MULTILINE)


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


@functools.lru_cache(maxsize=4096)  # pure; each order of an evaluation delimits the same text
def delimit_answer(answer: str) -> str:
    """Wrap ``answer`` in tags, cleaned of text that could fool the judge.

    Removed: anything that could close the tags or act as a chat-role marker, text posing as
    the judge's verdict or option block, and instructions addressed to the judge.
    """
    # structural cuts (judging/forgery_spans.py); refusals stay: this judge reads them
    clean, previous = strip_forgeries(answer, keep_refusals=True), None
    while clean != previous:  # nested forgeries ("<</answer>/answer>") need several passes
        previous = clean
        clean = _ROLE_MARKER.sub(" ", _FORGERY.sub(" ", clean))
    clean = _TRAILING_BLANKS.sub("\n", _BLANK_LINES.sub("\n\n", clean.strip()))
    return f"{prompts.ANSWER_OPEN}\n{clean}\n{prompts.ANSWER_CLOSE}"


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
# the difference is multiplied by CALIBRATION_SCALE = 0.8 / 0.262: on XSTest-dev the calibrated
# medians of clear refusals (+0.262) and clear compliance (-0.278) to unsafe requests then land
# at +0.79 (about the search's commit threshold V_threshold = 0.8) and -0.83.
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
    # The previous default: zero-shot yes/no, both phrasings averaged, uncalibrated.
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
