"""Stacked prefills that take the longest suffixes out first: less padding, the same rows.

A walk over pooled leaves stacks rows that continue a kept cache (a few positions) beside
rows whose kept cache was dropped (tens); one call pads every row to the longest.
``prefill_grouped`` prefills the long rows first when that pads less, and must hand the walk
what one call would: the same logits after every row and a cache that continues each row.
"""

from __future__ import annotations

import torch
from tiny_models import one_thread  # noqa: F401

from rain_guard.backends.transformers import TransformersBackend
from rain_guard.backends.transformers.stacked_prefill import (
    CALL_COST,
    prefill_grouped,
    prefill_rows,
    split_point,
)


def test_rows_fed_alike_are_never_split():
    assert split_point([1] * 30) == 0
    assert split_point([3, 3, 2, 2, 1]) == 0


def test_one_long_row_beside_many_short_ones_goes_first():
    assert split_point([50] + [1] * 13) == 1


def test_the_split_is_where_padding_saved_outweighs_a_call():
    fed = [27, 26, 17, 17, 7, 7, 7, 7, 7, 6, 5, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1]
    # one call: 21 x 27 = 567 positions; the four longest first: 4 x 27 + 21 x 7 + a call
    assert split_point(fed) == 4
    assert CALL_COST + 4 * 27 + 21 * 7 < 21 * 27


def test_a_small_saving_does_not_pay_for_a_call():
    assert split_point([4, 1]) == 0  # 8 positions in one call against 4 + 2 + CALL_COST


def rows_for(backend: TransformersBackend) -> list[tuple[int, ...]]:
    """Two rows continuing a kept prefix by a token or two, and two long fresh ones."""
    encode = backend.tokenizer.encode
    kept = tuple(encode("Hello there. How are you today?"))
    backend._prefixes.prefill(kept)  # kept: the rows below continue it
    fresh = tuple(encode("To bake a cake, mix flour, sugar and eggs; then bake it for an hour."))
    other = tuple(encode("The quick brown fox jumps over the lazy dog. A new line starts here."))
    return [kept + kept[:1], fresh, kept + kept[:2], other]


def test_grouped_prefill_gives_every_row_the_logits_of_one_call(model, tokenizer):
    one, grouped = (TransformersBackend(model, tokenizer) for _ in range(2))
    rows = rows_for(one)
    assert rows == rows_for(grouped)
    before = grouped.counters.forward_calls
    got = prefill_grouped(grouped._prefixes, rows, 0)
    assert grouped.counters.forward_calls - before == 2  # the long rows, then every row
    want = prefill_rows(one._prefixes, rows, 0)
    torch.testing.assert_close(got.logits, want.logits, atol=1e-5, rtol=1e-5)
    assert got.lengths.tolist() == want.lengths.tolist() == [len(r) for r in rows]
    assert got.mask.sum(dim=1).tolist() == want.mask.sum(dim=1).tolist()


def test_a_grouped_prefill_continues_each_row(model, tokenizer):
    """One more token fed after the grouped prefill gives the logits of the longer row."""
    backend = TransformersBackend(model, tokenizer)
    rows = rows_for(backend)
    start = prefill_grouped(backend._prefixes, rows, 0)
    mask = torch.cat([start.mask, torch.ones((len(rows), 1), dtype=torch.long)], 1)
    token = [r[-1] for r in rows]
    step = backend._calls.forward(
        torch.tensor(token).view(-1, 1), start.cache, mask, 1, start.lengths.view(-1, 1)
    )[:, -1]
    fresh = TransformersBackend(model, tokenizer)
    for i, row in enumerate(rows):
        _, logits = fresh._prefixes.prefill(row + (row[-1],))
        torch.testing.assert_close(step[i], logits, atol=1e-4, rtol=1e-4)


def test_rows_keep_their_kept_prefix_when_the_long_rows_push_it_out(model, tokenizer):
    """With room for two kept prefixes, keeping the two long rows drops the short rows'
    prefix; the call of every row still continues it, feeding only what follows it."""
    backend = TransformersBackend(model, tokenizer, max_cached_prefixes=2)
    encode = backend.tokenizer.encode
    kept = tuple(encode("Hello there. How are you today?"))
    backend._prefixes.prefill(kept)
    long_rows = [
        tuple(encode("To bake a cake, mix flour, sugar and eggs; then bake it for an hour.")),
        tuple(encode("The quick brown fox jumps over the lazy dog. A new line starts here.")),
    ]
    rows = [kept + kept[:1], *long_rows, kept + kept[:2]]
    before = backend.counters.tokens_processed
    prefill_grouped(backend._prefixes, rows, 0)
    assert kept not in backend._prefixes.entries  # pushed out by the long rows
    fed = backend.counters.tokens_processed - before
    # then the long rows one position each, the short ones what follows the kept prefix
    assert fed == sum(len(r) for r in long_rows) + 2 + 1 + 2
