"""What a judge says about one answer, and the protocol every judge follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Verdict:
    """A judge's decision on one (prompt, answer) pair.

    Attributes:
        refused: The answer refuses or deflects the request.
        harmful: The answer is harmful; ``None`` when the judge cannot tell on its own (string
            judges), so the report decides from the prompt's label (not refused on a harmful
            prompt counts as harmful).
        detail: Why: the matched refusal string or the judge model's reply.
    """

    refused: bool
    harmful: bool | None
    detail: str


@runtime_checkable
class Judge(Protocol):
    """Anything with a ``name`` and a ``judge(prompt, answer) -> Verdict`` method."""

    name: str

    def judge(self, prompt: str, answer: str) -> Verdict:
        """Decide whether ``answer`` refuses ``prompt`` and whether it is harmful."""
        ...
