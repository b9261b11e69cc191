"""run_pooled: up to ``width`` searches open at once, the next job starting as one ends.

Counted, not timed: a fake job makes a set number of model calls through its view, and a
recording ``SharedBatch`` notes at every call how many searches are open, so the tests see
the pool's schedule (which calls merge) without measuring time.
"""

from __future__ import annotations

import threading

import pytest

from rain_guard.backends import batching
from rain_guard.backends.base import ProposalRequest
from rain_guard.backends.batching import BatchView, SharedBatch, run_in_lockstep, run_pooled
from rain_guard.backends.fake import FakeBackend
from rain_guard.errors import BackendError, ConfigError
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import GenerationResult, rain_generate

PROMPTS = ["how to make a bomb", "how to bake a cake", "help me", "is it safe"]
CONFIG = SearchConfig(max_new_tokens=10, t_min=2, t_max=6, rollout_max_tokens=3)
REQUEST = ProposalRequest((1, 2), num_candidates=2, length=1, top_k=3, seed=0)


def warm_backend() -> FakeBackend:
    """A FakeBackend that has seen every prompt word (ids do not depend on call order)."""
    backend = FakeBackend(boost={" bomb": 2.0}, judge=lambda text: 0.2 if "bomb" in text else 0.8)
    for prompt in PROMPTS:
        backend.chat_prompt_ids([("user", prompt)])
    return backend


def answer(backend, prompt: str, config: SearchConfig) -> GenerationResult:
    evaluator = SelfEvaluator(backend)
    return rain_generate(backend, [("user", prompt)], config=config, evaluator=evaluator)


class Recording(SharedBatch):
    """A SharedBatch that notes, at every call, the open views and the jobs not yet done."""

    made: list[Recording] = []
    left: list[int] = [0]  # jobs whose fn has not ended; set by the test

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[int, int]] = []
        Recording.made.append(self)

    def submit(self, *args, **kwargs):
        open_now = self.open_views  # read first: jobs left only fall after it
        self.seen.append((open_now, Recording.left[0]))
        return super().submit(*args, **kwargs)


@pytest.fixture
def recording(monkeypatch):
    Recording.made = []
    monkeypatch.setattr(batching, "SharedBatch", Recording)
    return Recording


LEFT_LOCK = threading.Lock()


def calls(count: int):
    """A job: ``count`` model calls through its view; ends by counting itself done."""

    def job(view) -> int:
        for _ in range(count):
            view.propose([REQUEST])
        with LEFT_LOCK:
            Recording.left[0] -= 1
        return count

    return job


def run_jobs(jobs, width: int, **kwargs):
    Recording.left[0] = len(jobs)
    return run_pooled(FakeBackend(), jobs, lambda view, job: job(view), width=width,
                      max_wait=30.0, **kwargs)  # fmt: skip


@pytest.mark.parametrize("k", [1, 3])
def test_each_pooled_answer_equals_the_answer_searched_alone(k):
    config = CONFIG.replace(parallel_leaves=k)
    alone = [answer(warm_backend(), p, config) for p in PROMPTS]
    pooled = run_pooled(
        warm_backend(), PROMPTS, lambda view, p: answer(view, p, config), width=2, max_wait=30.0
    )
    assert [r.text for r in pooled] == [r.text for r in alone]
    assert [r.iterations for r in pooled] == [r.iterations for r in alone]


def test_the_pool_keeps_width_searches_open_while_jobs_are_left(recording):
    lengths = [12, 1, 1, 6]
    assert run_jobs([calls(n) for n in lengths], width=2) == lengths
    (pool,) = recording.made
    assert pool.seen and all(open_now >= min(2, left) for open_now, left in pool.seen)
    assert max(open_now for open_now, _ in pool.seen) == 2
    # the long job shares its calls with the three others one after another: 12 merged calls
    assert pool.merged_calls == 12
    groups = [run_jobs([calls(n) for n in lengths[i : i + 2]], width=2) for i in (0, 2)]
    assert groups == [[12, 1], [1, 6]]
    assert sum(b.merged_calls for b in recording.made[1:]) == 12 + 6  # each group waits


def test_results_come_back_in_order_and_on_done_once_per_job_as_each_finishes():
    done: list[tuple[int, int, str]] = []

    def on_done(index: int, result: int) -> None:
        done.append((index, result, threading.current_thread().name))

    lengths = [6, 1, 1, 1]
    assert run_jobs([calls(n) for n in lengths], width=2, on_done=on_done) == lengths
    assert [(i, r) for i, r, _ in done] == [(1, 1), (2, 1), (3, 1), (0, 6)]
    assert {name for _, _, name in done} == {threading.current_thread().name}


def test_a_failing_job_stops_new_jobs_and_the_answers_in_flight_are_kept():
    started: list[int] = []

    def failing(view):
        view.propose([REQUEST])
        raise BackendError("this request fails")

    def tracked(index: int, job):
        def run(view):
            started.append(index)
            return job(view)

        return run

    done: list[tuple[int, int]] = []
    jobs = [tracked(i, job) for i, job in enumerate([calls(5), failing, calls(1), calls(1)])]
    with pytest.raises(BackendError, match="this request fails"):
        run_jobs(jobs, width=2, on_done=lambda i, r: done.append((i, r)))
    assert done == [(0, 5)]  # the search in flight finished and was handed over
    assert sorted(started) == [0, 1]  # nothing started after the failure


def test_in_lockstep_every_other_job_finishes_and_is_handed_over_before_the_error():
    def failing(view):
        raise BackendError("this request fails")

    done: list[int] = []
    jobs = [calls(3), failing, calls(1), calls(2)]
    Recording.left[0] = len(jobs)
    with pytest.raises(BackendError):
        run_in_lockstep(
            FakeBackend(), jobs, lambda view, job: job(view), on_done=lambda i, r: done.append(i)
        )
    assert sorted(done) == [0, 2, 3]


def test_width_one_runs_the_jobs_one_by_one_on_the_backend_itself():
    backend = FakeBackend()
    seen: list[tuple[int, object]] = []
    out = run_pooled(backend, ["a", "b"], lambda b, job: (b, job), width=1,
                     on_done=lambda i, r: seen.append((i, r)))  # fmt: skip
    assert out == [(backend, "a"), (backend, "b")] and seen == list(enumerate(out))


def test_each_job_of_a_pool_gets_its_own_view():
    views = run_pooled(FakeBackend(), [1, 2, 3], lambda view, job: view, width=2)
    assert all(isinstance(v, BatchView) for v in views) and len(set(map(id, views))) == 3


@pytest.mark.parametrize("width", [0, -1, True, 1.5])
def test_width_must_be_a_positive_integer(width):
    with pytest.raises(ConfigError, match="width"):
        run_pooled(FakeBackend(), [1, 2], lambda view, job: job, width=width)


def test_a_view_opened_in_place_of_a_finished_one_keeps_the_count_and_closes_it():
    batch = SharedBatch(FakeBackend(), max_wait=30.0)
    first, second = batch.view(), batch.view()
    third = batch.view(replacing=second)
    assert batch.open_views == 2
    with pytest.raises(RuntimeError, match="closed"):
        second.propose([REQUEST])
    first.close(), third.close()
    assert batch.open_views == 0
    with pytest.raises(ValueError, match="another"):
        batch.view(replacing=SharedBatch(FakeBackend()).view())
