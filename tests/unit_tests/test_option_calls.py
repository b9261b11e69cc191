"""option_probs_in_orders: one option_probs call, or one per order, whichever feeds less.

A recording backend stands in for the model: each row's probabilities are its own ids, so the
tests see which calls were made and that the rows come back answer-major.
"""

from __future__ import annotations

from collections.abc import Sequence

from rain_guard.backends.option_calls import batch_cost, option_probs_in_orders, split_cost

INSTRUCTIONS = list(range(100, 130))  # 30 ids every row shares
EXAMPLES = {0: list(range(200, 240)), 1: list(range(300, 340))}  # each order's own 40 ids


def row(answer: int, order: int) -> list[int]:
    return [*INSTRUCTIONS, *EXAMPLES[order], 1000 + answer, order]


class Recording:
    """``option_probs`` returns each row's last two ids; the calls are recorded."""

    def __init__(self, per_row: bool) -> None:
        self.reuses_prefix_per_row = per_row
        self.calls: list[list[list[int]]] = []

    def option_probs(self, rows: Sequence[Sequence[int]], option_ids: Sequence[int]):
        self.calls.append([list(r) for r in rows])
        return [[float(r[-2]), float(r[-1])] for r in rows]


def rows_of(answers: int) -> list[list[int]]:
    return [row(a, o) for a in range(answers) for o in (0, 1)]  # answer-major


def test_orders_that_part_early_go_one_call_per_order_on_their_pinned_prefixes():
    backend, rows = Recording(per_row=False), rows_of(3)
    pinned = [len(INSTRUCTIONS) + 40] * 2
    probs = option_probs_in_orders(backend, rows, [5, 6], pinned)
    assert [len(c) for c in backend.calls] == [3, 3]
    assert backend.calls[0] == rows[0::2] and backend.calls[1] == rows[1::2]
    assert probs == [[1000.0 + a, float(o)] for a in range(3) for o in (0, 1)]
    assert split_cost(rows, [rows[0::2], rows[1::2]], pinned) < batch_cost(rows, max(pinned))


def test_orders_that_part_late_go_in_one_call():
    backend = Recording(per_row=False)
    rows = [[*INSTRUCTIONS, 1000 + a, o] for a in range(3) for o in (0, 1)]
    option_probs_in_orders(backend, rows, [5, 6], [len(INSTRUCTIONS)] * 2)
    assert backend.calls == [rows]


def test_a_backend_reusing_each_row_s_prefix_takes_one_answer_in_one_call():
    backend = Recording(per_row=True)
    pinned = [len(INSTRUCTIONS) + 40] * 2
    option_probs_in_orders(backend, rows_of(1), [5, 6], pinned)
    assert backend.calls == [rows_of(1)]
    option_probs_in_orders(backend, rows_of(2), [5, 6], pinned)  # several answers: per order
    assert [len(c) for c in backend.calls[1:]] == [2, 2]


def test_one_order_is_one_call():
    backend = Recording(per_row=False)
    rows = [row(a, 0) for a in range(3)]
    option_probs_in_orders(backend, rows, [5, 6], [70])
    assert backend.calls == [rows]
