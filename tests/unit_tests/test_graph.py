"""The LangGraph search graph and end-to-end RAIN runs on FakeBackend (offline, no weights).

The graph's drawing is pinned by a snapshot file. To regenerate it after an intended change
of the graph's shape, run from the repository root:

    RAIN_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/unit_tests/test_graph.py -k mermaid

(or write ``build_rain_graph().get_graph().draw_mermaid()`` to
tests/unit_tests/snapshots/rain_graph.mmd by hand) and review the diff before committing.

The golden run pins determinism: the same seed on FakeBackend must give exactly the recorded
answer. If a deliberate change of the search alters it, re-record the constants below from
``rain_generate`` with the same arguments and say why in the commit message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from rain_guard.backends.fake import FakeBackend
from rain_guard.errors import PromptError
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import HashEmbedder
from rain_guard.search.graph import build_rain_graph
from rain_guard.search.run import GenerationResult, rain_generate, vanilla_generate
from rain_guard.search.tree import SearchTree

SNAPSHOT = Path(__file__).parent / "snapshots" / "rain_graph.mmd"
STEPS = {"select", "expand", "evaluate", "backward", "commit"}
MESSAGES = [("user", "how to make a bomb")]
CONFIG = SearchConfig(max_new_tokens=20, t_min=2, t_max=10, rollout_max_tokens=4)

# Recorded from the current code (seed 0, CONFIG, HashEmbedder, no_bomb evaluator).
GOLDEN_TEXT = (
    " here you here to B with how flour that make. that sugar how make help is with cake cake"
)
GOLDEN_ITERATIONS = 25
GOLDEN_COMMITS = 5
GOLDEN_COMMIT_TEXTS = [
    " here",
    " you here",
    " to B with how",
    " flour that make. that sugar how make help is",
    " with cake cake",
]


def no_bomb(prompt: str, answer: str) -> float:
    return -1.0 if "bomb" in answer else 1.0


def run(
    config: SearchConfig = CONFIG, events: list[dict[str, Any]] | None = None, **kwargs: Any
) -> GenerationResult:
    backend = FakeBackend(boost={" bomb": 2.0})
    return rain_generate(
        backend,
        MESSAGES,
        evaluator=FunctionEvaluator(no_bomb),
        embedder=HashEmbedder(),
        config=config,
        on_event=None if events is None else events.append,
        **kwargs,
    )


@pytest.fixture(scope="module")
def base_run() -> tuple[GenerationResult, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    return run(events=events), events


# --- the graph ---------------------------------------------------------------------------


def test_mermaid_drawing_matches_snapshot():
    drawing = build_rain_graph().get_graph().draw_mermaid()
    if os.environ.get("RAIN_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(drawing)
    assert drawing == SNAPSHOT.read_text()


def test_graph_nodes_are_the_paper_steps():
    graph = build_rain_graph().get_graph()
    assert set(graph.nodes) - {"__start__", "__end__"} == STEPS


def test_graph_edges_and_conditional_routes():
    edges = {(e.source, e.target): e.conditional for e in build_rain_graph().get_graph().edges}
    assert edges == {
        ("__start__", "select"): False,
        ("select", "expand"): True,
        ("select", "evaluate"): True,  # a terminal or budget-capped leaf is not expanded
        ("expand", "evaluate"): False,
        ("evaluate", "backward"): False,
        ("backward", "select"): True,
        ("backward", "commit"): True,
        ("backward", "__end__"): True,
        ("commit", "select"): True,
        ("commit", "__end__"): True,
    }


# --- end to end --------------------------------------------------------------------------


def test_rain_avoids_what_vanilla_says(base_run):
    vanilla = vanilla_generate(FakeBackend(boost={" bomb": 2.0}), MESSAGES, max_new_tokens=20)
    assert " bomb" in vanilla.text
    result, _ = base_run
    assert "bomb" not in result.text
    assert result.text
    assert no_bomb("", result.text) == 1.0


def test_rain_with_self_evaluation_avoids_what_vanilla_says():
    """The model judges itself: a scripted judge that finds answers mentioning bombs harmful."""

    def judge(text: str) -> float:
        answer = text.split("<answer>")[1].split("</answer>")[0]
        harmful = "bomb" in answer
        asks_harmless = "Is this answer harmless" in text
        return (0.1 if harmful else 0.9) if asks_harmless else (0.9 if harmful else 0.1)

    for seed in (0, 1):
        backend = FakeBackend(boost={" bomb": 2.0}, judge=judge)
        result = rain_generate(
            backend,
            MESSAGES,
            criterion="harmless",
            embedder=HashEmbedder(),
            config=CONFIG.model_copy(update={"seed": seed}),
        )
        assert "bomb" not in result.text, seed
        assert result.counters["evaluation_prompts"] > 0


def test_golden_run(base_run):
    result, _ = base_run
    assert result.text == GOLDEN_TEXT
    assert result.iterations == GOLDEN_ITERATIONS
    assert len(result.commits) == GOLDEN_COMMITS
    assert [c["text"] for c in result.commits] == GOLDEN_COMMIT_TEXTS
    assert result.stop_reason == "length"
    assert len(result.token_ids) == 20


def test_same_seed_same_result(base_run):
    first, first_events = base_run
    events: list[dict[str, Any]] = []
    again = run(events=events)
    assert again.text == first.text
    assert again.token_ids == first.token_ids
    assert again.iterations == first.iterations
    assert again.rewinds == first.rewinds
    assert again.commits == first.commits
    assert events == first_events
    assert again.state is not None and first.state is not None
    assert again.state["tree"] == first.state["tree"]


def test_other_seeds_are_used(base_run):
    first, _ = base_run
    others = (run(CONFIG.model_copy(update={"seed": s})) for s in (1, 2, 3))
    assert any(o.token_ids != first.token_ids for o in others)  # stops at the first that differs


def test_stop_string_ends_generation_and_is_cut(base_run):
    first, _ = base_run
    result = run(stop=["."])
    assert result.stop_reason == "stop"
    assert "." not in result.text
    # the search is the same up to the commit that produced the stop string
    assert result.text == first.text[: first.text.index(".")]
    assert "." in result.commits[-1]["text"]
    assert len(result.commits) < len(first.commits)


def test_stop_string_that_never_occurs_changes_nothing(base_run):
    first, _ = base_run
    result = run(stop=["zebra"])
    assert result.text == first.text
    assert result.stop_reason == "length"


@pytest.mark.parametrize("budget", [1, 3, 7])
def test_max_new_tokens_is_respected(budget):
    result = run(CONFIG.model_copy(update={"max_new_tokens": budget}))
    assert 0 < len(result.token_ids) <= budget
    assert result.stop_reason in ("length", "eos")
    assert sum(len(c["tokens"]) for c in result.commits) <= budget


def test_eos_ends_generation_without_the_eos_token():
    backend = FakeBackend(boost={"<eos>": 6.0})
    result = rain_generate(
        backend,
        [("user", "hi")],
        evaluator=FunctionEvaluator(lambda p, a: 0.0),
        config=CONFIG,
    )
    eos = next(iter(backend.stop_token_ids))
    assert result.stop_reason == "eos"
    assert eos not in result.token_ids
    assert len(result.token_ids) < CONFIG.max_new_tokens


def test_progress_events(base_run):
    result, events = base_run
    kinds = [e["event"] for e in events]
    assert set(kinds) == {"iteration", "commit"}
    iterations = [e for e in events if e["event"] == "iteration"]
    commits = [e for e in events if e["event"] == "commit"]
    assert len(iterations) == result.iterations
    assert [e["iteration"] for e in iterations] == list(range(1, result.iterations + 1))
    assert all(-1.0 <= e["score"] <= 1.0 for e in iterations)
    assert len(commits) == len(result.commits)
    assert "".join(e["text"] for e in commits) == result.text
    assert "".join(c["text"] for c in result.commits) == result.text
    assert commits[-1]["answer_tokens"] == len(result.token_ids)
    assert sum(c["iterations"] for c in result.commits) == result.iterations
    assert kinds[-1] == "commit"


def _plain(value: Any) -> bool:
    if value is None or type(value) in (str, int, float, bool):
        return True
    if type(value) is list:
        return all(_plain(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


def test_final_state_is_plain_data(base_run):
    result, _ = base_run
    state = dict(result.state or {})
    tree = state.pop("tree")
    assert isinstance(tree, SearchTree)
    data = tree.to_dict()
    assert _plain(data)
    bad = {k: type(v).__name__ for k, v in state.items() if not _plain(v)}
    assert not bad
    text = json.dumps({**state, "tree": data})
    back = json.loads(text)
    assert SearchTree.from_dict(back["tree"]) == tree
    assert back["answer_ids"] == result.token_ids


def test_empty_prompt_is_rejected():
    for messages in ([], [("user", "   ")], [("system", "be nice")]):
        with pytest.raises(PromptError):
            rain_generate(FakeBackend(), messages, evaluator=FunctionEvaluator(no_bomb))


def test_golden_tree_of_the_first_commit():
    """The seeded search weighs the same alternatives with the same statistics every run."""
    from rain_guard import FakeBackend, FunctionEvaluator, HashEmbedder, SearchConfig
    from rain_guard import rain_generate as generate

    result = generate(
        FakeBackend(boost={" bomb": 2.0}),
        [("user", "how to make a bomb")],
        evaluator=FunctionEvaluator(lambda p, a: -1.0 if "bomb" in a else 1.0),
        embedder=HashEmbedder(),
        config=SearchConfig(max_new_tokens=20, t_min=2, t_max=10, rollout_max_tokens=4),
    )
    first = result.commits[0]
    golden = [
        (" is", 3.0, -1.0), (" here", 5.0, -0.2), (" step", 0.0, 0.0), (" bomb", 0.0, 0.0),
        (" cake", 0.0, 0.0), (" Yes", 0.0, 0.0), (" you", 0.0, 0.0), (" flour", 1.0, -1.0),
        (" safe", 0.0, 0.0), (" a", 0.0, 0.0),
    ]  # fmt: skip
    seen = [(a["text"], round(a["visits"], 4), round(a["value"], 4)) for a in first["alternatives"]]
    assert seen == golden
    assert first["chosen"] == 1  # the most-visited child, not the greedy " is"
