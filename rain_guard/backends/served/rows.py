"""map_rows: run a call's rows concurrently, results in row order, first error raised.

The served backend sends every row of a protocol call (the k x B proposals of a search
step, their roll-outs, the option-scoring prompts) as its own HTTP request, so that a
batching engine (vLLM, SGLang) sees them all at once and puts them into one batch. How many
requests are in flight is bounded by the client's slots (``ServerClient``), not here: rows
may nest (a proposal's samples are rows of their own), and a thread that waits on other
rows never holds a slot, so nesting cannot deadlock and the bound holds across all threads
that share the backend.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_rows(
    fn: Callable[[Item], Result],
    items: Sequence[Item],
    concurrency: int,
    alone_first: Sequence[int] = (),
) -> list[Result]:
    """``fn`` over ``items`` with up to ``concurrency`` threads, results in ``items``' order.

    One item, or ``concurrency`` 1, runs in the calling thread in order (a server that
    answers one request at a time, like llama.cpp's, then sees exactly the sequence of
    requests the rows make one after another). Otherwise the rows at ``alone_first`` run
    first, one by one in that order (rows whose answers decide what the others send), then
    the rest together. On an error, rows not yet started are cancelled, the running ones
    finish, and the error of the earliest failed row is raised.
    """
    if concurrency <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    done = {i: fn(items[i]) for i in alone_first}
    rest = [i for i in range(len(items)) if i not in done]
    together = _together(fn, [items[i] for i in rest], concurrency)
    done.update(zip(rest, together, strict=True))
    return [done[i] for i in range(len(items))]


def _together(fn: Callable[[Item], Result], items: list[Item], concurrency: int) -> list[Result]:
    """All ``items`` at once on up to ``concurrency`` threads, in order."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    workers = min(len(items), concurrency)
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="rain-served") as pool:
        futures = [pool.submit(fn, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
