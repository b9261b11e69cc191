"""Probabilities read from a server's top alternatives (log-probabilities in nats).

A server returns, per generated position, the chosen token's log-probability and the top
``logprobs`` alternatives. A set's prior is renormalised over the top-``top_k`` pool as the
in-process engine does; an option label missing from the alternatives gets a bounded share of
the mass they leave.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rain_guard.backends.served.choices import Choice


def logsumexp(values: Sequence[float]) -> float:
    """log(sum(exp(values))), 0.0 for no values."""
    if not values:
        return 0.0
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def set_logprob(choice: Choice, length: int, top_k: int) -> float:
    """Sum over the first ``length`` positions of the chosen token's top-k renormalised logprob.

    The pool is the position's ``top_k`` best returned alternatives (plus the chosen token
    when it ranks below them); positions without a log-probability count 0.
    """
    total = 0.0
    for i in range(min(length, len(choice.logprobs))):
        chosen = choice.logprobs[i]
        if chosen is None:
            continue
        top = choice.tops[i] if i < len(choice.tops) else {}
        pool = sorted(top.values(), reverse=True)[:top_k]
        if not pool or chosen < pool[-1]:
            pool.append(chosen)
        total += min(0.0, chosen - logsumexp(pool))
    return total


def fill_missing(options: list[int], found: dict[int, float], returned: list[float]) -> list[float]:
    """Option probabilities; those not returned share the leftover mass.

    Each missing option gets ``min(remaining / missing, smallest returned)``: it cannot
    exceed what the server ranked above it, and the options together cannot exceed the mass
    the returned alternatives leave.
    """
    probs = {o: math.exp(lp) for o, lp in found.items()}
    missing = [o for o in options if o not in probs]
    if missing:
        mass = [math.exp(v) for v in returned]
        remaining = max(0.0, 1.0 - sum(mass))
        fallback = min(remaining / len(missing), min(mass)) if mass else 0.0
        probs.update(dict.fromkeys(missing, fallback))
    return [probs[o] for o in options]
