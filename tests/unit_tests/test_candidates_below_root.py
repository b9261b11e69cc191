"""SearchConfig.candidates_below_root: q sets at the search root, fewer below it."""

from __future__ import annotations

import pytest

from rain_guard.backends.fake import FakeBackend
from rain_guard.errors import ConfigError
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import rain_generate


class CountingBackend(FakeBackend):
    """Records (prefix, q) of every proposal."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[tuple[int, ...], int]] = []

    def _propose_one(self, req):
        self.asked.append((tuple(req.prefix), req.num_candidates))
        return super()._propose_one(req)


MESSAGES = [("user", "how to bake a cake")]


def run(**settings):
    backend = CountingBackend()
    config = SearchConfig(max_new_tokens=12, t_min=2, t_max=12, rollout_max_tokens=3, **settings)
    judge = FunctionEvaluator(lambda p, a: -0.5)
    return backend, rain_generate(backend, MESSAGES, evaluator=judge, config=config)


def test_the_root_gets_q_sets_and_nodes_below_it_fewer():
    backend, result = run(candidates_below_root=3)
    assert {q for _, q in backend.asked} <= {10, 7, 3, 2}  # 7: a top-up; 2: node addition
    assert 3 in {q for _, q in backend.asked}
    # every commit chose among as many root children as the published search's (q = 10, or
    # all the fake model has at the first set): proposed fresh, or topped up after a commit
    _, plain = run()
    widths = [len(c["alternatives"]) for c in result.commits]
    assert len(widths) > 1 and max(widths) == 10
    assert widths == [len(c["alternatives"]) for c in plain.commits]


def test_it_cuts_the_proposals_and_none_is_the_search_as_published():
    full, _ = run()
    fewer, _ = run(candidates_below_root=3)
    assert {q for _, q in full.asked} == {10}
    assert sum(q for _, q in fewer.asked) < sum(q for _, q in full.asked)


@pytest.mark.parametrize("bad", [0, 257])
def test_out_of_range_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="candidates_below_root"):
        SearchConfig(candidates_below_root=bad)
