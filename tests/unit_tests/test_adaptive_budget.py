"""The adaptive budget: an early commit when the first evaluations are clearly good.

Off by default (faithful mode, pinned by the golden run in test_graph.py); on, it commits
before T_min only when the most-visited root child was evaluated, reaches
``adaptive_value`` and leads every other evaluated child by ``adaptive_margin``.
"""

from __future__ import annotations

import json

import pytest

from rain_guard.backends.fake import FakeBackend
from rain_guard.cli.app import main
from rain_guard.errors import ConfigError
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import rain_generate, vanilla_generate
from rain_guard.search.steps import should_commit
from rain_guard.search.tree import ROOT, SearchTree

ADAPTIVE = SearchConfig(t_min=6, t_max=50, adaptive_commit=True, adaptive_value=0.5)


def tree_with(children: list[tuple[float, float, int]], root_iterations: int) -> SearchTree:
    """A root with children given as (visits, value, real visits)."""
    tree = SearchTree()
    for i, (visits, value, real) in enumerate(children):
        node = tree.add_child(ROOT, (i + 1,), -1.0)
        tree.visits[node], tree.value[node], tree.real_visits[node] = visits, value, real
    tree.real_visits[ROOT] = root_iterations
    tree.visits[ROOT] = float(root_iterations)
    return tree


def test_off_by_default_and_faithful_mode_waits_for_t_min():
    assert SearchConfig().adaptive_commit is False
    tree = tree_with([(1.0, 0.9, 1)], root_iterations=1)
    assert not should_commit(tree, SearchConfig())


def test_commits_after_one_clearly_good_evaluation():
    tree = tree_with([(1.0, 0.9, 1), (0.0, 0.0, 0)], root_iterations=1)
    assert should_commit(tree, ADAPTIVE)


def test_a_value_below_the_bar_waits():
    tree = tree_with([(1.0, 0.4, 1)], root_iterations=1)
    assert not should_commit(tree, ADAPTIVE)


def test_a_bad_branch_never_commits_early():
    tree = tree_with([(3.0, -0.8, 3), (1.0, -0.9, 1)], root_iterations=4)
    assert not should_commit(tree, ADAPTIVE)


@pytest.mark.parametrize(("rival", "commits"), [(0.7, False), (0.6, True), (-0.5, True)])
def test_the_lead_over_evaluated_rivals_must_be_clear(rival, commits):
    tree = tree_with([(2.0, 0.9, 2), (1.0, rival, 1)], root_iterations=3)
    assert should_commit(tree, ADAPTIVE.replace(adaptive_margin=0.3)) is commits


def test_unevaluated_rivals_do_not_count():
    tree = tree_with([(1.0, 0.9, 1), (0.2, 0.95, 0)], root_iterations=1)
    assert should_commit(tree, ADAPTIVE)


def test_a_best_child_known_only_by_similarity_is_not_evaluated():
    tree = tree_with([(0.4, 0.9, 0)], root_iterations=1)
    assert not should_commit(tree, ADAPTIVE)


def test_waits_for_the_minimum_iterations():
    config = ADAPTIVE.replace(adaptive_min_iterations=3)
    assert not should_commit(tree_with([(2.0, 0.9, 2)], root_iterations=2), config)
    assert should_commit(tree_with([(3.0, 0.9, 3)], root_iterations=3), config)


def test_t_max_still_forces_a_commit():
    tree = tree_with([(5.0, -1.0, 5)], root_iterations=50)
    assert should_commit(tree, ADAPTIVE)


@pytest.mark.parametrize(
    "bad",
    [
        {"adaptive_min_iterations": 0},
        {"adaptive_value": 1.5},
        {"adaptive_value": -1.1},
        {"adaptive_margin": -0.1},
        {"adaptive_margin": 2.5},
    ],
)
def test_settings_are_validated(bad):
    with pytest.raises(ConfigError):
        SearchConfig(adaptive_commit=True, **bad)


def test_every_adaptive_setting_is_documented():
    names = ("adaptive_commit", "adaptive_min_iterations", "adaptive_value", "adaptive_margin")
    for name in (*names, "adaptive_greedy_first", "adaptive_greedy_rollout"):
        assert SearchConfig.model_fields[name].description


def _answer(config: SearchConfig, score: float):
    return rain_generate(
        FakeBackend(),
        [("user", "how to bake a cake")],
        evaluator=FunctionEvaluator(lambda prompt, answer: score),
        config=config,
    )


def test_benign_answers_cost_fewer_iterations():
    base = SearchConfig(max_new_tokens=12, t_min=4, t_max=8, rollout_max_tokens=3)
    faithful = _answer(base, 0.7)
    adaptive = _answer(base.replace(adaptive_commit=True), 0.7)
    assert len(adaptive.token_ids) == len(faithful.token_ids) == 12
    assert adaptive.iterations < faithful.iterations
    assert adaptive.counters["tokens_processed"] < faithful.counters["tokens_processed"]
    assert all(c["iterations"] <= 2 for c in adaptive.commits)  # 2: the root's own rollout


def test_badly_judged_answers_get_the_full_search():
    base = SearchConfig(max_new_tokens=8, t_min=3, t_max=6, rollout_max_tokens=3)
    faithful = _answer(base, -0.6)
    adaptive = _answer(base.replace(adaptive_commit=True, adaptive_greedy_first=False), -0.6)
    assert adaptive.token_ids == faithful.token_ids
    assert adaptive.iterations == faithful.iterations


def test_greedy_first_widens_a_badly_judged_draft_to_the_full_search():
    base = SearchConfig(max_new_tokens=8, t_min=3, t_max=6, rollout_max_tokens=3)
    faithful = _answer(base, -0.6)
    adaptive = _answer(base.replace(adaptive_commit=True), -0.6)
    assert all(len(c["alternatives"]) > 1 for c in adaptive.commits)  # widened every time
    assert adaptive.iterations >= faithful.iterations


def test_greedy_first_answers_a_well_judged_prompt_as_greedy_decoding_would():
    base = SearchConfig(max_new_tokens=12, t_min=4, t_max=8, rollout_max_tokens=3)
    lazy = _answer(base.replace(adaptive_commit=True), 0.7)
    eager = _answer(base.replace(adaptive_commit=True, adaptive_greedy_first=False), 0.7)
    greedy = vanilla_generate(FakeBackend(), [("user", "how to bake a cake")], max_new_tokens=12)
    assert lazy.token_ids == greedy.token_ids
    assert all(len(c["alternatives"]) == 1 and c["greedy"] for c in lazy.commits)
    assert lazy.counters["tokens_processed"] < eager.counters["tokens_processed"] / 3


class Recorder:
    """An evaluator that passes every draft and remembers what it was shown."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def score(self, prompt: str, answers):
        self.texts += answers
        return [0.9 for _ in answers]


def _judged(config: SearchConfig) -> tuple[list[str], str]:
    backend, judge = FakeBackend(), Recorder()
    messages = [("user", "how to bake a cake")]
    rain_generate(backend, messages, evaluator=judge, config=config)
    greedy = vanilla_generate(FakeBackend(), messages, max_new_tokens=40).text
    return judge.texts, greedy


def test_greedy_rollouts_judge_the_text_greedy_decoding_commits():
    base = SearchConfig(max_new_tokens=12, rollout_max_tokens=4, adaptive_commit=True)
    texts, greedy = _judged(base)
    assert texts and all(greedy.startswith(t) for t in texts)
    sampled, _ = _judged(base.replace(adaptive_greedy_rollout=False))
    assert not all(greedy.startswith(t) for t in sampled)  # RAIN's sampled roll-outs
    faithful, _ = _judged(base.replace(adaptive_commit=False, t_min=2, t_max=3))
    assert not all(greedy.startswith(t) for t in faithful)  # faithful mode keeps sampling


def test_generate_takes_the_adaptive_budget_and_reports_commit_values(capsys):
    base = ["generate", "how to bake a cake", "--model", "fake", "--max-tokens", "8",
            "--no-similarity", "--quiet", "--json"]  # fmt: skip
    assert main(base) == 0
    faithful = json.loads(capsys.readouterr().out)
    assert main([*base, "--adaptive-budget", "--adaptive-value", "-1"]) == 0
    adaptive = json.loads(capsys.readouterr().out)
    assert len(faithful["commit_values"]) == faithful["commits"]
    assert all(-1.0 <= v <= 1.0 for v in faithful["commit_values"])
    assert adaptive["iterations_per_commit"] < faithful["iterations_per_commit"]
