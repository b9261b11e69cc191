"""SharedBatch: searches that share a backend share its calls and keep their own answers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rain_guard.backends.base import ProposalRequest
from rain_guard.backends.batching import BatchView, SharedBatch, run_in_lockstep
from rain_guard.backends.fake import FakeBackend
from rain_guard.errors import BackendError, ConfigError
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import GenerationResult, rain_generate

PROMPTS = ["how to make a bomb", "how to bake a cake", "help me", "is it safe"]
CONFIG = SearchConfig(max_new_tokens=10, t_min=2, t_max=6, rollout_max_tokens=3)


def no_bomb(prompt: str, answer: str) -> float:
    return -1.0 if "bomb" in answer else 1.0


def warm_backend() -> FakeBackend:
    """A FakeBackend that has seen every prompt word (ids do not depend on call order)."""
    backend = FakeBackend(boost={" bomb": 2.0}, judge=lambda text: 0.2 if "bomb" in text else 0.8)
    for prompt in PROMPTS:
        backend.chat_prompt_ids([("user", prompt)])
    return backend


def answer(backend, prompt: str, config: SearchConfig, self_eval: bool) -> GenerationResult:
    evaluator = SelfEvaluator(backend) if self_eval else FunctionEvaluator(no_bomb)
    return rain_generate(backend, [("user", prompt)], config=config, evaluator=evaluator)


def answers_in_batch(config: SearchConfig, self_eval: bool = True):
    backend = warm_backend()
    batch = SharedBatch(backend, max_wait=30.0)
    views = [batch.view() for _ in PROMPTS]

    def one(i: int) -> GenerationResult:
        with views[i]:
            return answer(views[i], PROMPTS[i], config, self_eval)

    with ThreadPoolExecutor(len(PROMPTS)) as pool:
        results = list(pool.map(one, range(len(PROMPTS))))
    return results, batch, backend


@pytest.mark.parametrize("k", [1, 3])
def test_each_answer_equals_the_answer_searched_alone(k):
    config = CONFIG.replace(parallel_leaves=k)
    alone = [answer(warm_backend(), p, config, self_eval=True) for p in PROMPTS]
    together, _, _ = answers_in_batch(config)
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.iterations for r in together] == [r.iterations for r in alone]


def test_searches_share_calls():
    together, batch, backend = answers_in_batch(CONFIG)
    alone_calls = 0
    for p in PROMPTS:
        solo = warm_backend()
        answer(solo, p, CONFIG, self_eval=True)
        alone_calls += solo.counters.forward_calls
    merged_groups = batch.merged_calls
    per_search_groups = sum(r.counters["forward_calls"] for r in together)
    assert merged_groups < per_search_groups  # calls were merged across searches
    assert backend.counters.forward_calls < alone_calls  # evaluations: one call for all rows


def test_each_view_counts_its_own_share_of_tokens():
    together, _, backend = answers_in_batch(CONFIG)
    shares = sum(r.counters["tokens_processed"] for r in together)
    assert abs(shares - backend.counters.tokens_processed) <= len(PROMPTS) * 50
    assert all(r.counters["tokens_processed"] > 0 for r in together)


def test_a_failing_call_fails_only_its_own_search():
    backend = warm_backend()
    batch = SharedBatch(backend, max_wait=30.0)
    good, bad = batch.view(), batch.view()
    request = ProposalRequest((1, 2), num_candidates=2, length=1, top_k=3, seed=0)
    broken = ProposalRequest((), num_candidates=2, length=1, top_k=3, seed=0)
    out: dict[str, object] = {}

    def call(name, view, req):
        try:
            out[name] = view.propose([req])
        except Exception as exc:  # noqa: BLE001
            out[name] = exc

    original = backend.propose

    def strict_propose(requests):
        if any(not r.prefix for r in requests):
            raise BackendError("empty prefix")
        return original(requests)

    backend.propose = strict_propose
    threads = [
        threading.Thread(target=call, args=("good", good, request)),
        threading.Thread(target=call, args=("bad", bad, broken)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert isinstance(out["bad"], BackendError)
    assert isinstance(out["good"], list) and out["good"][0]


def test_a_closed_view_no_longer_holds_the_others_back():
    backend = warm_backend()
    batch = SharedBatch(backend, max_wait=30.0)
    idle, busy = batch.view(), batch.view()
    idle.close()
    result = answer(busy, PROMPTS[1], CONFIG, self_eval=False)  # would wait 30 s per call
    assert result.text
    with pytest.raises(RuntimeError, match="closed"):
        idle.propose([])


@pytest.mark.parametrize("wait", [0, -1.0, "1"])
def test_max_wait_must_be_positive(wait):
    with pytest.raises(ConfigError, match="max_wait"):
        SharedBatch(FakeBackend(), max_wait=wait)


# --- ChatRAIN.batch / abatch share one backend's calls ---------------------------------------


def chat_model(**kw):
    from rain_guard import ChatRAIN

    return ChatRAIN(
        backend=warm_backend(), max_tokens=8, t_min=2, t_max=5, use_similarity=False, **kw
    )


def test_chat_batch_equals_invoke_one_by_one_and_shares_calls():
    llm = chat_model()
    alone = [llm.invoke(p).content for p in PROMPTS]
    batched = chat_model()
    answers = [m.content for m in batched.batch(PROMPTS)]
    assert answers == alone
    separate = chat_model(batch_searches=False)
    assert [m.content for m in separate.batch(PROMPTS)] == alone


def test_chat_batch_searches_really_share_calls(monkeypatch):
    made: list[SharedBatch] = []
    original = SharedBatch.__init__

    def record(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(SharedBatch, "__init__", record)
    one_by_one, together = chat_model(), chat_model()
    for prompt in PROMPTS:
        one_by_one.invoke(prompt)
    together.batch(PROMPTS)
    assert len(made) == 1 and made[0].merged_calls > 0
    # FakeBackend counts one call per option_probs call, however many rows: merged is fewer
    assert together.backend.counters.forward_calls < one_by_one.backend.counters.forward_calls


def test_chat_batch_with_max_concurrency_starts_the_next_search_as_one_ends(monkeypatch):
    made: list[SharedBatch] = []
    open_at_start: list[int] = []
    init, view = SharedBatch.__init__, SharedBatch.view

    def record(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    def opened(self, *args, **kwargs):
        out = view(self, *args, **kwargs)
        open_at_start.append(self.open_views)
        return out

    monkeypatch.setattr(SharedBatch, "__init__", record)
    monkeypatch.setattr(SharedBatch, "view", opened)
    alone = [chat_model().invoke(p).content for p in PROMPTS]
    answers = chat_model().batch(PROMPTS, config={"max_concurrency": 2})
    assert [m.content for m in answers] == alone
    # LangChain's executor refills: one SharedBatch, a view per search, at most 2 open
    assert len(made) == 1 and len(open_at_start) == len(PROMPTS) and max(open_at_start) <= 2


async def test_chat_abatch_equals_invoke():
    alone = [chat_model().invoke(p).content for p in PROMPTS[:3]]
    answers = [m.content for m in await chat_model().abatch(PROMPTS[:3])]
    assert answers == alone


def test_run_in_lockstep_gives_each_job_its_own_view_and_keeps_order():
    def one(view, prompt):
        assert isinstance(view, BatchView)
        return answer(view, prompt, CONFIG, self_eval=True).text

    together = run_in_lockstep(warm_backend(), PROMPTS, one, max_wait=30.0)
    assert together == [answer(warm_backend(), p, CONFIG, self_eval=True).text for p in PROMPTS]


def test_run_in_lockstep_runs_a_single_job_on_the_backend_itself():
    backend = FakeBackend()
    assert run_in_lockstep(backend, ["only"], lambda b, job: (b, job)) == [(backend, "only")]
