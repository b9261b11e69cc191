"""T_min / T by commit: the reference budget where the answer is decided, less after."""

from __future__ import annotations

import pytest

from rain_guard.backends.fake import FakeBackend
from rain_guard.errors import ConfigError
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import GenerationResult, rain_generate

CONFIG = SearchConfig(max_new_tokens=16, t_min=2, t_max=8, rollout_max_tokens=3)


def bad_everywhere(prompt: str, answer: str) -> float:
    return -0.5  # never good enough to commit early: every commit takes T iterations


def run(config: SearchConfig) -> GenerationResult:
    return rain_generate(
        FakeBackend(),
        [("user", "how to bake a cake")],
        evaluator=FunctionEvaluator(bad_everywhere),
        config=config,
    )


def test_schedule_values_by_commit_and_the_last_repeats():
    config = SearchConfig(t_min=2, t_max=8, t_min_schedule=(6, 1), t_max_schedule=(50, 50, 4))
    assert [config.t_max_at(i) for i in range(5)] == [50, 50, 4, 4, 4]
    assert [config.t_min_at(i) for i in range(3)] == [6, 1, 1]
    assert config.most_iterations_per_commit() == 50
    assert SearchConfig(t_max=9).t_max_at(3) == 9


def test_a_schedule_that_repeats_the_flat_budget_changes_nothing():
    flat = run(CONFIG)
    same = run(CONFIG.replace(t_min_schedule=(2,), t_max_schedule=(8, 8)))
    assert (same.text, same.iterations) == (flat.text, flat.iterations)


def test_each_commit_searches_at_most_its_scheduled_t_max():
    result = run(CONFIG.replace(t_max_schedule=(8, 3), t_min_schedule=(2, 1)))
    first, *later = result.commits
    assert first["iterations"] <= 8
    assert later and all(c["iterations"] <= 3 for c in later)
    assert result.iterations < run(CONFIG).iterations


@pytest.mark.parametrize(
    "settings",
    [
        {"t_min_schedule": (6,), "t_max_schedule": (4,)},
        {"t_min": 6, "t_max": 50, "t_max_schedule": (50, 3)},
        {"t_max_schedule": (0,)},
    ],
)
def test_inconsistent_schedules_are_config_errors(settings):
    with pytest.raises(ConfigError, match="schedule"):
        SearchConfig(**settings)
