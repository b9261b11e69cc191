"""The HTML trace page: what a person reads of the alternatives the search weighed."""

from __future__ import annotations

from rain_guard.backends.fake import FakeBackend
from rain_guard.cli.trace_page import write_trace_html
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import rain_generate


def test_unvisited_candidates_show_no_value_and_visits_are_whole_numbers(tmp_path):
    result = rain_generate(
        FakeBackend(),
        [("user", "how to bake a cake")],
        evaluator=FunctionEvaluator(lambda prompt, answer: 0.5),
        config=SearchConfig(max_new_tokens=3, t_min=2, t_max=3, rollout_max_tokens=2),
    )
    alternatives = [a for c in result.commits for a in c["alternatives"]]
    assert any(a["visits"] == 0 for a in alternatives)  # the page must show such a row
    path = tmp_path / "trace.html"
    write_trace_html(result, str(path), prompt="how to bake a cake", model="fake")
    page = path.read_text()
    assert "<td class='unvisited'>-</td>" in page
    assert "+0.000" not in page  # an unvisited candidate has no value to show
    assert " 1.0</td>" not in page and " 2.0</td>" not in page  # visits as counted
