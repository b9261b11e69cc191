"""Scores remembered by (request, answer) text, so an evaluator never judges a text twice.

RAIN's roll-outs often end at the same sentence boundary, so the same partial answer comes
back for scoring many times; a model call (local or remote) per repeat is wasted work.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence


class ScoreCache:
    """A bounded least-recently-stored map ``(prompt, answer) -> score``.

    Args:
        size: Entries kept (the oldest are dropped first).
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], float] = OrderedDict()

    def missing(self, prompt: str, answers: Sequence[str]) -> list[str]:
        """The distinct answers without a stored score, in first-seen order."""
        return list(dict.fromkeys(a for a in answers if (prompt, a) not in self._items))

    def scores(
        self,
        prompt: str,
        answers: Sequence[str],
        compute: Callable[[list[str]], Sequence[float]],
    ) -> dict[str, float]:
        """Scores of ``answers``: stored ones, the rest from one ``compute(missing)`` call."""
        todo = self.missing(prompt, answers)
        fresh = dict(zip(todo, compute(todo), strict=True)) if todo else {}
        for answer, value in fresh.items():
            self._items[(prompt, answer)] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return {a: fresh[a] if a in fresh else self._items[(prompt, a)] for a in answers}
