"""Option scoring in several option orders: one backend call, or one call per order.

An evaluator asks each answer's question in ``k`` option orders and sends the rows answer-major
(answer 0 in every order, then answer 1, ...). In one ``option_probs`` call a backend computes
the prefix all rows share once, then every row's rest; when the orders part early (few-shot
examples whose verdicts follow the order) that re-feeds most of each order's own prefix, which
the backend may hold pinned (``pin_prefix``). One call per order continues each order's pinned
prefix instead. ``option_probs_in_orders`` sends whichever feeds fewer tokens, given what the
backend can do: one that continues each row of a batch on its own kept prefix
(``reuses_prefix_per_row``) takes one answer's orders in one call all the same (a search
evaluates one answer at a time).
"""

from __future__ import annotations

from collections.abc import Sequence

from rain_guard.backends.base import Backend


def option_probs_in_orders(
    backend: Backend,
    rows: Sequence[Sequence[int]],
    option_ids: Sequence[int],
    pinned: Sequence[int],
) -> list[list[float]]:
    """``backend.option_probs(rows, option_ids)``, in one call or one call per order.

    Args:
        backend: The judging model.
        rows: Answer-major prompt ids, ``len(pinned)`` orders per answer.
        option_ids: The label token ids.
        pinned: Tokens of each order's prefix the backend holds pinned (0: none).

    Returns:
        The option probabilities of every row, in the order of ``rows``.
    """
    k = len(pinned)
    by_order = [rows[j::k] for j in range(k)]
    per_row = getattr(backend, "reuses_prefix_per_row", False)
    one_call = k == 1 or (per_row and len(rows) == k)  # one answer: one row per order
    if one_call or split_cost(rows, by_order, pinned) >= batch_cost(rows, max(pinned)):
        return backend.option_probs(rows, option_ids)
    per_order = [backend.option_probs(group, option_ids) for group in by_order]
    return [per_order[j][i] for i in range(len(rows) // k) for j in range(k)]


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the leading ids all ``rows`` share."""
    first, n = rows[0], min(len(r) for r in rows)
    for i in range(n):
        if any(r[i] != first[i] for r in rows[1:]):
            return i
    return n


def batch_cost(rows: Sequence[Sequence[int]], cached: int = 0) -> int:
    """Tokens fed when ``rows`` share one call.

    Their common prefix once, less the ``cached`` tokens of it the backend holds, then every
    row's suffix.
    """
    common = common_prefix(rows)
    return max(0, common - cached) + sum(len(r) - common for r in rows)


def split_cost(
    rows: Sequence[Sequence[int]],
    groups: Sequence[Sequence[Sequence[int]]],
    cached: Sequence[int],
) -> int:
    """Tokens fed when each group is its own call.

    The prefix all rows share is fed once (beyond what is cached); each group then feeds
    what follows that prefix or its own ``cached`` prefix (a pinned one), whichever is longer.
    """
    common = common_prefix(rows)
    cost = max(0, common - max(cached))
    for group, held in zip(groups, cached, strict=True):
        cost += batch_cost(group, max(common, held))
    return cost
