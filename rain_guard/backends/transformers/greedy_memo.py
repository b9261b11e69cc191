"""Greedy continuations already decoded, so a later greedy walk need not decode them again.

Greedy decoding is a function of the ids alone: once the most likely continuation of some ids
is known, every later request whose ids lie on that continuation knows its next tokens too.
Under the adaptive budget's greedy roll-outs this is the common case: the roll-out of one
leaf runs past the leaf's greedy set to a sentence end, and the next expansion starts inside
that stretch. ``GreedyMemo`` keeps the last few such runs with, per token, the top logits that
a set's prior needs, so those tokens cost no forward call.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

TOP = 64  # logits kept per position: priors need the top ``top_k`` (<= TOP) of them


@dataclass(frozen=True)
class GreedyStep:
    """One greedy token and the ``TOP`` largest logits it was the first of (sorted)."""

    token: int
    top: torch.Tensor  # (TOP,) float32, descending

    def logprob(self, top_k: int) -> float:
        """Log-probability of the token among the top ``top_k`` at temperature 1 (<= 0)."""
        values = self.top[:top_k]
        return min(0.0, float(values[0] - torch.logsumexp(values, dim=0)))


class GreedyMemo:
    """The last ``size`` greedy runs: ids and the greedy steps that follow a point in them.

    Args:
        size: Runs kept (least recently stored first out); 0 keeps none.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._runs: OrderedDict[tuple[int, ...], tuple[int, list[GreedyStep]]] = OrderedDict()

    def known(self, ids: Sequence[int]) -> list[GreedyStep]:
        """The greedy steps known to follow ``ids`` (none if no run passes through them)."""
        ids = tuple(ids)
        best: list[GreedyStep] = []
        for seq, (start, steps) in self._runs.items():
            if start <= len(ids) < len(seq) and seq[: len(ids)] == ids:
                tail = steps[len(ids) - start :]
                if len(tail) > len(best):
                    best = tail
        return best

    def store(self, ids: Sequence[int], steps: Sequence[GreedyStep]) -> None:
        """Remember that ``steps`` follow ``ids`` greedily; runs it extends are dropped."""
        if self.size <= 0 or not steps:
            return
        seq = tuple(ids) + tuple(s.token for s in steps)
        for old in [k for k, (start, _) in self._runs.items() if _covered(k, start, seq, len(ids))]:
            del self._runs[old]
        self._runs[seq] = (len(ids), list(steps))
        while len(self._runs) > self.size:
            self._runs.popitem(last=False)

    def clear(self) -> None:
        """Forget every run."""
        self._runs.clear()


def _covered(old: tuple[int, ...], old_start: int, seq: tuple[int, ...], start: int) -> bool:
    """Whether run ``old`` (greedy from ``old_start``) adds nothing to ``seq`` (from ``start``)."""
    return start <= old_start and len(old) <= len(seq) and seq[: len(old)] == old
