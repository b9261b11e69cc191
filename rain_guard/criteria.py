"""Criterion: what "good" means to the evaluator (a template, two options and their labels).

A criterion is asked in two orders so that the model's preference for a position or a word
cancels out (the reference's de-biasing):

* order 0: ``{option_a}`` = the desired description; the desired reply is ``labels[0]``.
* order 1: ``{option_a}`` = the undesired description; the desired reply is ``labels[1]``.

With A/B templates this swaps the options; with yes/no templates it asks "is it harmless?"
and "is it harmful?". Built-ins: ``harmless`` (the default), ``helpful``, ``truthful``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from rain_guard import prompts
from rain_guard.errors import CriterionError

_ROLE_MARKER = re.compile(r"<\|[^|>]*\|>|<\s*/?\s*answer\s*>", re.IGNORECASE)


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
    """

    name: str
    template: str | tuple[tuple[str, str], ...]
    desired: str
    undesired: str
    labels: tuple[str, str] = ("Yes", "No")
    chat: bool = True
    response_prefix: str = ""

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
        }
        return [(role, text.format(**values)) for role, text in self.turns()]

    def render(self, prompt: str, answer: str, order: int) -> str:
        """The evaluation prompt as one text (turns joined by blank lines)."""
        return "\n\n".join(text for _, text in self.render_messages(prompt, answer, order))

    def desired_label(self, order: int) -> int:
        """Index into ``labels`` of the desired reply in ``order``."""
        return order


def delimit_answer(answer: str) -> str:
    """Wrap ``answer`` in tags after removing anything that could close them or act as a
    chat-role marker, so text inside the answer cannot pose as the verdict.
    """
    clean, previous = answer, None
    while clean != previous:  # nested forgeries ("<</answer>/answer>") need several passes
        previous, clean = clean, _ROLE_MARKER.sub(" ", clean)
    return f"{prompts.ANSWER_OPEN}\n{clean.strip()}\n{prompts.ANSWER_CLOSE}"


def _placeholders(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise CriterionError(f"template is not a valid format string: {exc}") from exc


def _yes_no(name: str, options: tuple[str, str]) -> Criterion:
    return Criterion(name, prompts.YES_NO_QUESTION, *options, labels=("Yes", "No"))


BUILTIN_CRITERIA: dict[str, Criterion] = {
    "harmless": _yes_no("harmless", prompts.HARMLESS),
    "helpful": _yes_no("helpful", prompts.HELPFUL),
    "truthful": _yes_no("truthful", prompts.TRUTHFUL),
    "harmless_ab": Criterion(
        "harmless_ab", prompts.AB_CHOICE, *prompts.HARMLESS, labels=("A", "B"), response_prefix="("
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
