"""The pool of ``run_pooled``: worker threads taking jobs from one queue, one view each.

``rain_guard.backends.batching.run_pooled`` builds it on a ``SharedBatch``; width 1 (or a
single job) runs the jobs in the calling thread instead (``run_alone``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rain_guard.backends.base import Backend
    from rain_guard.backends.batching import BatchView, SharedBatch

Job = TypeVar("Job")
Out = TypeVar("Out")


def run_alone(
    backend: Backend,
    jobs: Sequence[Job],
    fn: Callable[[Backend, Job], Out],
    on_done: Callable[[int, Out], None] | None,
) -> list[Out]:
    """Each job on ``backend`` itself, one after another; a failure stops at once."""
    results = []
    for index, job in enumerate(jobs):
        results.append(fn(backend, job))
        if on_done is not None:
            on_done(index, results[-1])
    return results


class Pool:
    """``width`` worker threads taking jobs from one queue, each search on its own view.

    The first ``width`` views are opened before any search starts, and a worker keeps its
    finished search's view open until the next job's view replaces it, so the open views never
    drop below ``min(width, jobs left)``. Results go to the calling thread through a queue;
    each worker puts ``None`` when it has no more jobs.
    """

    def __init__(self, shared: SharedBatch, jobs: list[Any], fn: Callable, width: int) -> None:
        self.shared, self.jobs, self.fn, self.width = shared, jobs, fn, width
        self._lock = threading.Lock()
        self._next = 0
        self._stopped = False
        self._finished: queue.SimpleQueue[tuple[int, Any, BaseException | None] | None] = (
            queue.SimpleQueue()
        )

    def run(self, on_done: Callable[[int, Any], None] | None) -> list[Any]:
        """Every job's result in order, or the first failure once the workers have ended."""
        results: list[Any] = [None] * len(self.jobs)
        failures: dict[int, BaseException] = {}
        own_error: BaseException | None = None
        starts = [self._take(None) for _ in range(self.width)]  # all open before any call
        with ThreadPoolExecutor(self.width, thread_name_prefix="rain-pool") as pool:
            for start in starts:
                pool.submit(self._work, start)
            try:
                for index, result, error in self._results():
                    if error is not None:
                        failures[index] = error
                        continue
                    results[index] = result
                    if on_done is not None and own_error is None:
                        on_done(index, result)
            except BaseException as exc:  # on_done failed, or the caller was interrupted
                own_error = exc
                self.stop()
        if own_error is not None:
            raise own_error
        if failures:
            first = failures[min(failures)]
            if len(failures) > 1:
                first.add_note(f"{len(failures) - 1} other job(s) of the pool failed too")
            raise first
        return results

    def stop(self) -> None:
        """Start no further job (the searches in flight run to their end)."""
        with self._lock:
            self._stopped = True

    def _results(self) -> Iterator[tuple[int, Any, BaseException | None]]:
        ended = 0
        while ended < self.width:
            item = self._finished.get()
            if item is None:
                ended += 1
            else:
                yield item

    def _take(self, finished: BatchView | None) -> tuple[int, BatchView] | None:
        """The next job and its view (replacing ``finished``); None when none is left."""
        with self._lock:
            index = self._next
            if self._stopped or index >= len(self.jobs):
                index = None
            else:
                self._next += 1
        if index is None:
            if finished is not None:
                finished.close()
            return None
        return index, self.shared.view(replacing=finished)

    def _work(self, taken: tuple[int, BatchView] | None) -> None:
        view: BatchView | None = None
        try:
            while taken is not None:
                index, view = taken
                try:
                    self._finished.put((index, self.fn(view, self.jobs[index]), None))
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    self.stop()
                    self._finished.put((index, None, exc))
                taken = self._take(view)
            view = None  # closed by the last _take
        finally:
            if view is not None:
                view.close()
            self._finished.put(None)
