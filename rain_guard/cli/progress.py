"""The progress bar of every ``rain-guard`` command: tqdm on stderr, moving inside a search.

stdout carries only answers and tables, so ``rain-guard ... > out.md`` keeps the bar out of
the file. A RAIN answer can take minutes to an hour at the reference settings, so the bar
shows where its search is (tokens committed of the budget, iterations, the last score).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class Progress:
    """A tqdm bar on stderr of answers done, or of one answer's committed tokens.

    ``rain-guard generate`` and ``compare`` count the answer tokens of one RAIN answer
    (``count_tokens``); ``bench`` and ``eval run`` count answers. Either way ``search_event``
    takes ``rain_generate``'s events and shows the search in the bar's postfix: the answer's
    method, its committed tokens of ``max_tokens`` (when the bar counts answers), the
    iterations, and the last draft's score or committed value (in [-1, 1]).

    Args:
        total: Answers, or answer tokens with ``count_tokens``.
        desc: The bar's label, e.g. the command.
        unit: What the bar counts, e.g. "answer" or "tok".
        disable: No bar at all (``--quiet``).
        max_tokens: The answer token budget, shown as "tokens=3/32" (None: not shown).
        count_tokens: The bar counts committed tokens of one answer instead of answers.
    """

    def __init__(
        self,
        total: int,
        *,
        desc: str,
        unit: str = "answer",
        disable: bool = False,
        max_tokens: int | None = None,
        count_tokens: bool = False,
    ) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=disable)
        self.max_tokens = max_tokens
        self.count_tokens = count_tokens
        self.answer_tokens = 0
        self.iterations = 0

    def search_event(self, event: dict[str, Any], method: str | None = None) -> None:
        """Show a search's progress (``rain_generate`` events; others are ignored)."""
        kind = event.get("event")
        if kind == "iteration":
            self.iterations = event["iteration"]
            self._show(method, score=f"{event['score']:+.2f}")
        elif kind == "commit":
            if self.count_tokens:
                self.bar.update(min(len(event["tokens"]), self.bar.total - self.bar.n))
            self.answer_tokens = event["answer_tokens"]
            self._show(method, value=f"{event['value']:+.2f}")

    def answer_done(self, method: str | None = None) -> None:
        """Count a finished answer (named by its method in the postfix)."""
        self.answer_tokens = self.iterations = 0
        self.bar.set_postfix(**({} if method is None else {"method": method}))
        self.bar.update(1)

    def _show(self, method: str | None, **last: str) -> None:
        shown: dict[str, Any] = {} if method is None else {"method": method}
        if self.max_tokens is not None and not self.count_tokens:
            shown["tokens"] = f"{self.answer_tokens}/{self.max_tokens}"
        self.bar.set_postfix(**shown, iterations=self.iterations, **last)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


def track(items: Iterable[T], *, desc: str, unit: str) -> Iterator[T]:
    """``items``, with a tqdm bar on stderr of how many were taken."""
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, unit=unit, file=sys.stderr)
