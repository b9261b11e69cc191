"""ScoreCache: a text is scored once, in one batch, and memory stays bounded."""

from __future__ import annotations

from rain_guard.judging.score_cache import ScoreCache


def test_only_missing_distinct_answers_are_computed_in_one_call():
    calls: list[list[str]] = []

    def compute(todo: list[str]) -> list[float]:
        calls.append(todo)
        return [float(len(a)) for a in todo]

    cache = ScoreCache()
    assert cache.scores("p", ["ab", "c", "ab"], compute) == {"ab": 2.0, "c": 1.0}
    assert cache.scores("p", ["c", "def"], compute) == {"c": 1.0, "def": 3.0}
    assert cache.scores("other", ["c"], compute) == {"c": 1.0}
    assert calls == [["ab", "c"], ["def"], ["c"]]


def test_the_oldest_scores_are_dropped_beyond_the_size():
    cache = ScoreCache(size=2)
    cache.scores("p", ["a", "b", "c"], lambda todo: [0.0] * len(todo))
    assert cache.missing("p", ["a", "b", "c"]) == ["a"]
