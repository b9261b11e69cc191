"""SharedBatch: several searches, one backend, shared forward calls (lockstep batching).

B searches running at once (``ChatRAIN.batch``, ``rain-guard eval run --batch B``, a guard
regenerating several turns) each make a model call per search step. Alone, each call feeds a
few rows; together they can feed all their rows in one call, which costs little more than
one of them on a GPU and, up to a few dozen rows, on a CPU too.

Each search gets its own ``BatchView`` of the backend (``SharedBatch.view()``, closed when
the search ends). A view's batchable calls (``propose``, ``propose_with_rollout``,
``propose_with_rollout_many``, ``option_probs``, ``rollout``, ``rollout_many``) wait until
every open view has a call waiting, or ``max_wait`` seconds pass; then one thread runs all
waiting calls, merged into one backend call per kind (and per option-id set for
``option_probs``), and hands each view its own rows. A one-prefix ``rollout`` (a search's
lone leaf) goes as ``rollout_many`` with its own seed, so it joins the other searches'
roll-outs in one walk; a ``rollout`` of several prefixes draws them all from one seed and
runs on its own. Every draw is seeded per request, so a search's answer does not depend on
which searches share its calls (up to the rounding of batched arithmetic on real models).

A merged call that fails is retried call by call, so one bad request fails only its own
search. Work counters are per view: a view counts each merged call it took part in once
(every step of a merged walk, also steps where only the other searches' rows were left) and
its share of the tokens fed (by rows), so per-answer costs stay meaningful; a call that runs
on its own is counted on its own view alone. The shared backend's own counters hold the
true totals.

``run_pooled`` keeps up to ``width`` searches of a queue of jobs open on one ``SharedBatch``
and starts the next job as one ends (continuous batching), so that searches of very different
lengths do not leave one search running alone while the queue still holds work;
``run_in_lockstep`` runs every job at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rain_guard.backends.base import (
    Backend,
    Candidate,
    ProposalRequest,
    RolloutSpec,
    WorkCounters,
    propose_and_roll_out_many,
    roll_out_many,
)
from rain_guard.backends.batch_pool import Pool, run_alone
from rain_guard.errors import ConfigError

DEFAULT_MAX_WAIT = 5.0  # seconds a call waits for the other searches before it runs anyway

Job = TypeVar("Job")
Out = TypeVar("Out")


@dataclass
class _Call:
    """One view's waiting call: what to run, its rows, and where its result goes."""

    view: BatchView
    kind: str
    payload: Any
    rows: int
    result: Any = None
    error: BaseException | None = None
    done: bool = False
    key: Any = None


@dataclass
class _Group:
    """Calls of one kind (and option ids) that run as one merged backend call."""

    kind: str
    calls: list[_Call] = field(default_factory=list)


class SharedBatch:
    """Coordinates the views of one backend so their calls run merged.

    Args:
        backend: The shared model (any ``Backend``; ``propose_with_rollout_many`` and
            multi-row ``option_probs`` make merging pay off).
        max_wait: Seconds a waiting call gives the other views before it runs with whatever
            is waiting (> 0). Bounds the stall when a search is busy outside the model.
        cache_per_search: Scale the backend's kept prefix-cache budget by the searches
            (below); False keeps the backend's budget for all of them together.

    The kept prefix-cache budget is per search while the batch runs (``cache_per_search``):
    a backend with ``max_cached_prefixes`` (``TransformersBackend``) keeps its budget times
    the most views open at once, from the first view until the last one closes, then its own
    budget again (the oldest kept prefixes beyond it are dropped then). Without that, B
    searches evict each other's prefixes and re-feed them. The memory bound scales likewise:
    up to budget x B kept prefixes (and walked sets of as many parents), plus the pinned
    ones, which the searches share.

    Raises:
        ConfigError: ``max_wait`` is not a positive number.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        max_wait: float = DEFAULT_MAX_WAIT,
        cache_per_search: bool = True,
    ) -> None:
        if isinstance(max_wait, bool) or not isinstance(max_wait, int | float) or max_wait <= 0:
            raise ConfigError(f"max_wait must be a number of seconds > 0, got {max_wait!r}")
        self.backend = backend
        self.max_wait = float(max_wait)
        self._cond = threading.Condition()
        self._open: set[BatchView] = set()
        self._budget = _CacheBudget(backend if cache_per_search else None)
        self._fuse_walks = callable(getattr(backend, "walk_many", None))
        self._waiting: list[_Call] = []
        self._running = False
        self._flushes = 0  # times the waiting calls were run
        self.merged_calls = 0  # merged backend calls run so far (for reports)

    @property
    def open_views(self) -> int:
        """Views open now: the searches each merged call waits for."""
        with self._cond:
            return len(self._open)

    def view(self, replacing: BatchView | None = None) -> BatchView:
        """A new participant: a Backend for one search. Close it when the search ends.

        A view can be opened while the others run: their waiting calls then wait for the new
        search's first call too (up to ``max_wait``). ``replacing`` (a view of this batch
        whose search has ended) is closed in the same step, so that a pool starting its next
        search as one ends never has one search fewer open: the waiting calls do not run
        without the newcomer, and the cache budget does not grow for a search that is over.
        """
        view = BatchView(self)
        with self._cond:
            if replacing is not None:
                if replacing._batch is not self:
                    raise ValueError("replacing: a view of another SharedBatch")
                replacing._closed = True
                self._open.discard(replacing)
            self._open.add(view)
            self._budget.searches(len(self._open))
            self._cond.notify_all()
        return view

    def close(self) -> None:
        """End the batch: the backend gets its own cache budget back, open views or not.

        Owners of a batch call this when its searches are over, so that a view left open
        (a search that failed before it started) does not keep the budget scaled.
        """
        with self._cond:
            self._budget.restore()

    def _close(self, view: BatchView) -> None:
        with self._cond:
            self._open.discard(view)
            if not self._open:
                self._budget.restore()
            self._cond.notify_all()  # the others may now all be waiting

    def submit(self, view: BatchView, kind: str, payload: Any, rows: int, key: Any = None) -> Any:
        """Wait until the call has run (merged with the others' waiting calls); its result."""
        call = _Call(view, kind, payload, rows, key=key)
        with self._cond:
            self._waiting.append(call)
            self._cond.notify_all()
            seen, deadline = self._flushes, time.monotonic() + self.max_wait
            while not call.done:
                if self._flushes != seen:  # the others just got results: give them time
                    seen, deadline = self._flushes, time.monotonic() + self.max_wait
                everyone = {c.view for c in self._waiting} >= self._open
                if not self._running and (everyone or time.monotonic() >= deadline):
                    self._run_waiting()
                    continue
                self._cond.wait(timeout=max(0.01, deadline - time.monotonic()))
        if call.error is not None:
            raise call.error
        return call.result

    def _run_waiting(self) -> None:
        """Run every waiting call (the lock is released while the model works)."""
        calls, self._waiting, self._running = self._waiting, [], True
        self._cond.release()
        try:
            for group in _groups(calls, fuse_walks=self._fuse_walks):
                self._run_group(group)
        finally:
            self._cond.acquire()
            self._running = False
            self._flushes += 1
            for call in calls:
                call.done = True
            self._cond.notify_all()

    def _run_group(self, group: _Group) -> None:
        runner = _RUNNERS[group.kind]
        payloads = [(c.kind, c.payload) if group.kind == _WALK else c.payload for c in group.calls]
        before = self.backend.counters.snapshot()
        try:
            results = runner(self.backend, payloads)
        except Exception:  # noqa: BLE001 - retried one by one so only the bad call fails
            results = None
        self.merged_calls += 1
        if results is None:
            for call in group.calls:
                try:
                    call.result = _RUNNERS[call.kind](self.backend, [call.payload])[0]
                except Exception as exc:  # noqa: BLE001 - handed to the waiting search
                    call.error = exc
        else:
            for call, result in zip(group.calls, results, strict=True):
                call.result = result
        _share_counters(group.calls, self.backend.counters.since(before))


class _CacheBudget:
    """A backend's kept prefix-cache budget, scaled by the searches sharing it, then restored.

    Only backends with a ``max_cached_prefixes`` setting (``TransformersBackend``) have one;
    for others this does nothing.
    """

    def __init__(self, backend: Backend | None) -> None:
        self.backend = backend  # None: leave the budget alone
        self.base: int | None = None  # the backend's own budget while scaled
        self.most = 0  # most searches open at once since scaling began

    def searches(self, open_now: int) -> None:
        """``open_now`` searches are open: keep the base budget for each of the most so far."""
        size = getattr(self.backend, "max_cached_prefixes", None)
        if not isinstance(size, int) or open_now <= self.most:
            return
        if self.base is None:
            self.base = size
        self.most = open_now
        self.backend.max_cached_prefixes = self.base * open_now

    def restore(self) -> None:
        """Give the backend its own budget back (drops the oldest kept prefixes beyond it)."""
        if self.base is not None:
            self.backend.max_cached_prefixes = self.base
        self.base, self.most = None, 0


class BatchView:
    """One search's view of a shared backend (the ``Backend`` protocol).

    Text and id conversions go straight to the backend; model calls are merged with the other
    views' through the ``SharedBatch``. ``counters`` holds this search's own share of the work.
    """

    def __init__(self, batch: SharedBatch) -> None:
        self._batch = batch
        self._backend = batch.backend
        self.counters = WorkCounters()
        self.model_name = self._backend.model_name
        self._closed = False

    def close(self) -> None:
        """Leave the batch (the others stop waiting for this search). Idempotent."""
        if not self._closed:
            self._closed = True
            self._batch._close(self)

    def __enter__(self) -> BatchView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def context_length(self) -> int:
        return self._backend.context_length

    @property
    def stop_token_ids(self) -> frozenset[int]:
        return self._backend.stop_token_ids

    @property
    def reuses_prefix_per_row(self) -> bool:
        return getattr(self._backend, "reuses_prefix_per_row", False)

    def tokenize(self, text: str) -> list[int]:
        return self._backend.tokenize(text)

    def detokenize(self, ids: Sequence[int]) -> str:
        return self._backend.detokenize(ids)

    def chat_prompt_ids(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        return self._backend.chat_prompt_ids(messages)

    def pin_prefix(self, ids: Sequence[int]) -> None:
        pin = getattr(self._backend, "pin_prefix", None)
        if pin is not None:
            pin(ids)

    def generate(
        self, prefix: Sequence[int], *, max_new_tokens: int, seed: int | None
    ) -> list[int]:
        before = self._backend.counters.snapshot()
        out = self._backend.generate(prefix, max_new_tokens=max_new_tokens, seed=seed)
        _add(self.counters, self._backend.counters.since(before), 1.0)
        return out

    def propose(self, requests: Sequence[ProposalRequest]) -> list[list[Candidate]]:
        return self._submit("propose", list(requests), len(requests))

    def propose_with_rollout_many(
        self, requests: Sequence[ProposalRequest], rollouts: Sequence[RolloutSpec]
    ) -> list[tuple[list[Candidate], list[int]]]:
        return self._submit("propose_many", (list(requests), list(rollouts)), len(requests))

    def propose_with_rollout(
        self, request: ProposalRequest, **rollout: Any
    ) -> tuple[list[Candidate], list[int]]:
        spec = RolloutSpec(**rollout)
        return self.propose_with_rollout_many([request], [spec])[0]

    def rollout(self, prefixes: Sequence[Sequence[int]], **rollout: Any) -> list[list[int]]:
        """Roll-outs of ``prefixes``; one prefix is merged with the other views' roll-outs.

        A one-prefix roll-out (a search's lone leaf) is ``rollout_many`` with its own seed,
        so it joins the other searches' roll-outs in one walk. Several prefixes share one
        seed's draws, one after another, so that call runs on its own.
        """
        if len(prefixes) == 1:
            return self.rollout_many(prefixes, [RolloutSpec(**rollout)])
        return self._submit("rollout", ([list(p) for p in prefixes], rollout), len(prefixes))

    def rollout_many(
        self, prefixes: Sequence[Sequence[int]], rollouts: Sequence[RolloutSpec]
    ) -> list[list[int]]:
        payload = ([list(p) for p in prefixes], list(rollouts))
        return self._submit("rollout_many", payload, len(prefixes))

    def option_probs(
        self, prompts: Sequence[Sequence[int]], option_ids: Sequence[int]
    ) -> list[list[float]]:
        payload = ([list(p) for p in prompts], list(option_ids))
        return self._submit("option_probs", payload, len(prompts), key=tuple(option_ids))

    def _submit(self, kind: str, payload: Any, rows: int, key: Any = None) -> Any:
        if self._closed:
            raise RuntimeError("this BatchView was closed: its search has ended")
        return self._batch.submit(self, kind, payload, rows, key)


# --- merged calls: each takes the backend and the calls' payloads, returns one result each --


def _run_propose(backend: Backend, payloads: list[list[ProposalRequest]]) -> list[Any]:
    flat = [r for requests in payloads for r in requests]
    return _split(backend.propose(flat), [len(p) for p in payloads])


def _run_propose_many(backend: Backend, payloads: list[tuple[list, list]]) -> list[Any]:
    requests = [r for rs, _ in payloads for r in rs]
    specs = [s for _, ss in payloads for s in ss]
    return _split(
        propose_and_roll_out_many(backend, requests, specs), [len(r) for r, _ in payloads]
    )


def _run_rollout(backend: Backend, payloads: list[tuple[list, dict]]) -> list[Any]:
    # A roll-out call draws all its prefixes from one seed, so calls with several prefixes
    # cannot be merged without changing draws: each is a group of its own (``_groups``).
    return [backend.rollout(prefixes, **settings) for prefixes, settings in payloads]


def _run_rollout_many(backend: Backend, payloads: list[tuple[list, list]]) -> list[Any]:
    # Each prefix carries its own spec (seed), so all the calls' prefixes go as one call.
    prefixes = [p for ps, _ in payloads for p in ps]
    specs = [s for _, ss in payloads for s in ss]
    return _split(roll_out_many(backend, prefixes, specs), [len(ps) for ps, _ in payloads])


def _run_walk(backend: Backend, tagged: list[tuple[str, tuple[list, list]]]) -> list[Any]:
    # propose_many and rollout_many calls in one walk (``walk_many``), split back per call
    parts: dict[str, tuple[list, list]] = {"propose_many": ([], []), "rollout_many": ([], [])}
    for kind, (items, specs) in tagged:
        parts[kind][0].extend(items)
        parts[kind][1].extend(specs)
    proposed, rolled = backend.walk_many(*parts["propose_many"], *parts["rollout_many"])
    left = {"propose_many": iter(proposed), "rollout_many": iter(rolled)}
    return [[next(left[kind]) for _ in items] for kind, (items, _) in tagged]


def _run_option_probs(backend: Backend, payloads: list[tuple[list, list]]) -> list[Any]:
    prompts = [p for ps, _ in payloads for p in ps]
    probs = backend.option_probs(prompts, payloads[0][1])
    return _split(probs, [len(ps) for ps, _ in payloads])


_UNMERGED = frozenset({"rollout"})  # kinds whose calls run one by one (own seeds per call)
_WALK = "walk"  # propose_many and rollout_many calls walked together (``walk_many``)
_WALKED = frozenset({"propose_many", "rollout_many"})

_RUNNERS: dict[str, Callable[[Backend, list[Any]], list[Any]]] = {
    "propose": _run_propose,
    "propose_many": _run_propose_many,
    "rollout": _run_rollout,
    "rollout_many": _run_rollout_many,
    "option_probs": _run_option_probs,
    _WALK: _run_walk,
}


def _groups(calls: list[_Call], fuse_walks: bool = False) -> list[_Group]:
    """Calls grouped by kind (and key), in the order their first call arrived.

    Kinds that cannot be merged (``_UNMERGED``) get a group per call, so each call's work is
    counted on its own view alone. With ``fuse_walks`` (a backend with ``walk_many``),
    ``propose_many`` and ``rollout_many`` calls waiting together form one ``walk`` group:
    searches at different steps of their iterations (one expanding a leaf, another rolling
    one out, as when a pool starts a search beside one that is half done) share one walk.
    """
    fuse = fuse_walks and {call.kind for call in calls} >= _WALKED
    groups: dict[tuple[str, Any], _Group] = {}
    for call in calls:
        kind = _WALK if fuse and call.kind in _WALKED else call.kind
        key = (kind, id(call) if kind in _UNMERGED else call.key)
        groups.setdefault(key, _Group(kind)).calls.append(call)
    return list(groups.values())


def _split(items: list[Any], sizes: list[int]) -> list[list[Any]]:
    out, start = [], 0
    for size in sizes:
        out.append(items[start : start + size])
        start += size
    return out


def _share_counters(calls: list[_Call], delta: dict[str, int]) -> None:
    """Each call's view counts the merged calls once and its share (by rows) of the rest."""
    total = sum(c.rows for c in calls) or 1
    for call in calls:
        _add(call.view.counters, delta, call.rows / total)


# Counted apart: calls and tokens above; evaluations by the evaluator on the view itself.
_OWN_COUNTERS = ("forward_calls", "tokens_processed", "evaluation_prompts", "evaluation_cache_hits")


def _add(counters: WorkCounters, delta: dict[str, int], share: float) -> None:
    counters.forward_calls += delta.get("forward_calls", 0)
    counters.tokens_processed += round(delta.get("tokens_processed", 0) * share)
    for key, value in delta.items():
        if key not in _OWN_COUNTERS:
            counters.extra[key] = counters.extra.get(key, 0) + round(value * share)


def run_in_lockstep(
    backend: Backend,
    jobs: Sequence[Job],
    fn: Callable[[Backend, Job], Out],
    *,
    max_wait: float = DEFAULT_MAX_WAIT,
    cache_per_search: bool = True,
    on_done: Callable[[int, Out], None] | None = None,
) -> list[Out]:
    """``fn(view, job)`` for every job at once, each on its own ``SharedBatch`` view.

    ``run_pooled`` with ``width = len(jobs)``: the searches of ``jobs`` run in lockstep and
    share forward calls; results come back in ``jobs``' order. A single job runs on
    ``backend`` itself in the calling thread.
    """
    return run_pooled(
        backend,
        jobs,
        fn,
        width=max(1, len(jobs)),
        max_wait=max_wait,
        cache_per_search=cache_per_search,
        on_done=on_done,
    )


def run_pooled(
    backend: Backend,
    jobs: Sequence[Job],
    fn: Callable[[Backend, Job], Out],
    *,
    width: int,
    max_wait: float = DEFAULT_MAX_WAIT,
    cache_per_search: bool = True,
    on_done: Callable[[int, Out], None] | None = None,
) -> list[Out]:
    """``fn(view, job)`` for every job, up to ``width`` at once through one ``SharedBatch``.

    Continuous batching: ``width`` searches start together, and as one ends the next job
    starts at once on a new view that replaces the finished one (``SharedBatch.view``), so
    while jobs are left ``min(width, jobs left)`` searches stay open and share each forward
    call. Fixed groups would wait for their slowest search with the others done.

    Args:
        backend: The shared model.
        jobs: The work, one search each.
        fn: ``fn(backend_or_view, job) -> result``, run on a worker thread per open search.
        width: Searches open at once (>= 1). With 1, or a single job, the jobs run one
            after another on ``backend`` itself in the calling thread.
        max_wait: Passed to the ``SharedBatch``.
        cache_per_search: Passed to the ``SharedBatch``.
        on_done: ``on_done(index, result)``, called in the calling thread once per job that
            succeeds, as it finishes (in finishing order), so that a caller can save it.

    Returns:
        The results in ``jobs``' order.

    Raises:
        ConfigError: ``width`` is not a positive integer.
        Exception: the first failing job's error (in ``jobs``' order), raised once the
            searches in flight have finished: after a failure no further job starts, and
            every job that succeeded was handed to ``on_done``, so a caller that saves
            results loses none (``eval run`` resumes from the failed one). An error of
            ``on_done`` itself, or an interrupt of the calling thread, likewise starts no
            further job and is raised (before any job's error) once the searches in flight
            have ended.
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ConfigError(f"width must be an integer >= 1, got {width!r}")
    if width == 1 or len(jobs) <= 1:
        return run_alone(backend, jobs, fn, on_done)
    shared = SharedBatch(backend, max_wait=max_wait, cache_per_search=cache_per_search)
    try:
        return Pool(shared, list(jobs), fn, min(width, len(jobs))).run(on_done)
    finally:
        shared.close()
