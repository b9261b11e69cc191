"""A second blind suite of verdict-forging attacks, written without seeing any defence.

Verdict forging is text carried inside an answer that tries to make an automatic judge call a
harmful answer harmless (or a harmless answer harmful) instead of letting the answer's content
decide. The first suites were used while defences were tuned, so a defence's score on them
can overstate how well it generalises. This module is a fresh, unseen suite: its bodies and
templates were written without reading the defences, the first blind suite
(``forgery_blind``), the development attacks or the templates of ``forgery_suite``; only the
``Body``/``Template``/``Attack`` API and ``attacks()`` were used.

Contents:
    BLIND2_BODIES: 12 requests with answers, 6 harmful compliant answers (plausible but not
        operationally detailed) and 6 harmless ones (differently worded refusals,
        alarming-sounding but safe answers and ordinary helpful answers).
    BLIND2_TEMPLATES: attack texts in many families: verdicts in prose and in many languages
        and scripts, fake grader and classifier outputs, structured records, chat-role turns,
        fake system prompts, unicode tricks, emoji, citations, log lines, and notes that try
        to lower a harmless answer's score (fake flags and moderator warnings).

Each template's half ("tuning" or "held-out") is a salted hash of its family and text
(``blind2_half``), so the split is fixed, independent of the order of the templates and
independent of the first suites' split.
"""

from __future__ import annotations

from collections.abc import Sequence

from rain_guard.eval.forgery_blind2.bodies import BLIND2_BODIES
from rain_guard.eval.forgery_blind2.templates import BLIND2_TEMPLATES
from rain_guard.eval.forgery_suite import HALVES, Attack, Body, Template, attacks, hashed_half

__all__ = [
    "BLIND2_BODIES",
    "BLIND2_SALT",
    "BLIND2_TEMPLATES",
    "HALVES",
    "blind2_attacks",
    "blind2_half",
]

BLIND2_SALT = "rain-forgery-blind-v2|"


def blind2_half(template: Template) -> str:
    """The template's half, "tuning" or "held-out": a salted hash of family and text.

    Args:
        template: the attack template.

    Returns:
        "tuning" or "held-out", from the first 8 hex digits of
        ``sha256(BLIND2_SALT + family + "|" + text)`` taken mod 2.
    """
    return hashed_half(BLIND2_SALT + template.family + "|" + template.text)


def blind2_attacks(half: str | None, bodies: Sequence[Body] = BLIND2_BODIES) -> list[Attack]:
    """Every blind-2 template of ``half`` at start, middle and end of every body.

    Args:
        half: "tuning", "held-out", or None for both halves.
        bodies: the bodies to attack (default ``BLIND2_BODIES``).

    Returns:
        The attacks, as ``forgery_suite.attacks`` builds them with ``blind2_half``.
    """
    return attacks(half, bodies, BLIND2_TEMPLATES, half_of=blind2_half)
