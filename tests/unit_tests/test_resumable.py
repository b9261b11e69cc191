"""Resumable generation: the search is checkpointed once per commit (SQLite) and a killed run
resumes from its last commit without searching committed sets again.

The kill test runs a generation in a subprocess that stops dead (a model call that never
returns) while searching its third commit, SIGKILLs it, and resumes in this process: the
answer equals an uninterrupted run with the same seed, and only the commits not yet saved
are searched.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from rain_guard.backends.fake import FakeBackend
from rain_guard.errors import ConfigError, ResumeError
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import HashEmbedder
from rain_guard.search.resume import build_resumable_rain_graph
from rain_guard.search.run import GenerationResult, rain_generate, resume_rain
from rain_guard.search.tree import SearchTree

pytestmark = pytest.mark.filterwarnings("ignore:`durability` has no effect")

MESSAGES = [("user", "how to make a bomb")]
CONFIG = SearchConfig(max_new_tokens=20, t_min=2, t_max=10, rollout_max_tokens=4)
THREAD = "answer-1"
KILL_AT_COMMIT = 3  # the subprocess blocks while searching this commit and is killed

# The same run as tests/unit_tests/test_graph.py's golden run, printing progress.
CHILD = textwrap.dedent(
    """
    import sqlite3, sys, time
    from langgraph.checkpoint.sqlite import SqliteSaver
    from rain_guard.backends.fake import FakeBackend
    from rain_guard.search.config import SearchConfig
    from rain_guard.search.embeddings import HashEmbedder
    from rain_guard.judging.evaluator import FunctionEvaluator
    from rain_guard.search.run import rain_generate

    path, kill_at = sys.argv[1], int(sys.argv[2])
    commits = 0

    def on_event(event):
        global commits
        if event["event"] == "commit":
            commits += 1

    def judge(prompt, answer):
        # Called inside the search for a commit; with durability "sync" that search starts
        # only once the previous commit's checkpoint is on disk. Block in the search for
        # commit kill_at: a model call that never returns, waiting for SIGKILL.
        if commits == kill_at - 1:
            print("saved", commits, flush=True)
            time.sleep(600)
        return -1.0 if "bomb" in answer else 1.0

    saver = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    rain_generate(
        FakeBackend(boost={" bomb": 2.0}),
        [("user", "how to make a bomb")],
        evaluator=FunctionEvaluator(judge),
        embedder=HashEmbedder(),
        config=SearchConfig(max_new_tokens=20, t_min=2, t_max=10, rollout_max_tokens=4),
        on_event=on_event,
        checkpointer=saver,
        thread_id="answer-1",
    )
    print("finished", flush=True)
    """
)


def no_bomb(prompt: str, answer: str) -> float:
    return -1.0 if "bomb" in answer else 1.0


def run(events: list[dict[str, Any]] | None = None, **kwargs: Any) -> GenerationResult:
    options: dict[str, Any] = {"config": CONFIG, **kwargs}
    return rain_generate(
        FakeBackend(boost={" bomb": 2.0}),
        kwargs.pop("messages", MESSAGES),
        evaluator=FunctionEvaluator(no_bomb),
        embedder=HashEmbedder(),
        on_event=None if events is None else events.append,
        **{k: v for k, v in options.items() if k != "messages"},
    )


def resume(saver: Any, events: list[dict[str, Any]], **kwargs: Any) -> GenerationResult:
    return resume_rain(
        FakeBackend(boost={" bomb": 2.0}),
        MESSAGES,
        checkpointer=saver,
        thread_id=THREAD,
        evaluator=FunctionEvaluator(no_bomb),
        embedder=HashEmbedder(),
        on_event=events.append,
        **{"config": CONFIG, **kwargs},
    )


def commit_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "commit"]


@pytest.fixture(scope="module")
def uninterrupted() -> tuple[GenerationResult, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    return run(events), events


def sqlite_saver(path: Path) -> SqliteSaver:
    return SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))


# --- the graph -----------------------------------------------------------------------------


def test_resumable_graph_is_one_looping_node():
    graph = build_resumable_rain_graph().get_graph()
    assert set(graph.nodes) == {"__start__", "search_commit", "__end__"}
    edges = {(e.source, e.target) for e in graph.edges}
    assert edges == {
        ("__start__", "search_commit"),
        ("search_commit", "search_commit"),
        ("search_commit", "__end__"),
    }


def test_checkpointed_run_equals_the_plain_run(uninterrupted):
    plain, plain_events = uninterrupted
    events: list[dict[str, Any]] = []
    saved = run(events, checkpointer=InMemorySaver(), thread_id=THREAD)
    assert saved.text == plain.text
    assert saved.commits == plain.commits
    assert saved.iterations == plain.iterations
    assert events == plain_events  # progress events are forwarded once, unchanged
    assert saved.resumed_commits == 0


def test_state_is_saved_once_per_commit_not_per_step(uninterrupted):
    plain, _ = uninterrupted
    saver = InMemorySaver()
    run(checkpointer=saver, thread_id=THREAD)
    saved = list(saver.list({"configurable": {"thread_id": THREAD}}))
    # one per commit, plus the input and the first step; per super-step it would be ~100
    assert len(saved) <= len(plain.commits) + 2
    assert len(plain.commits) + 2 < plain.iterations * 4


def test_tree_round_trips_through_the_checkpoint_serializer(uninterrupted):
    """Saved as plain data: the serializer would turn the dataclass's token tuples to lists."""
    plain, _ = uninterrupted
    tree = plain.state["tree"]
    serde = JsonPlusSerializer()
    back = serde.loads_typed(serde.dumps_typed({"tree": tree.to_dict()}))
    assert SearchTree.from_dict(back["tree"]) == tree


# --- kill and resume -------------------------------------------------------------------------


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The child's next stdout line, or '' if it takes longer than ``timeout`` seconds."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0].strip() if line else ""


def test_killed_generation_resumes_from_its_last_commit(tmp_path, uninterrupted):
    plain, _ = uninterrupted
    db = tmp_path / "checkpoints.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(KILL_AT_COMMIT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = read_line(proc, timeout=240)  # generous: CI machines can be slow to import
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert line == f"saved {KILL_AT_COMMIT - 1}", line
    assert proc.returncode == -signal.SIGKILL

    saver = sqlite_saver(db)
    state = build_resumable_rain_graph(saver).get_state({"configurable": {"thread_id": THREAD}})
    saved = len(state.values["commits"])
    assert saved == KILL_AT_COMMIT - 1
    assert state.next == ("search_commit",)

    events: list[dict[str, Any]] = []
    resumed = resume(saver, events)
    assert resumed.text == plain.text
    assert resumed.token_ids == plain.token_ids
    assert resumed.commits == plain.commits
    assert resumed.iterations == plain.iterations
    assert resumed.resumed_commits == saved
    redone = commit_events(events)  # commits searched after the resume
    assert len(redone) == len(plain.commits) - saved
    assert [e["text"] for e in redone] == [c["text"] for c in plain.commits[saved:]]

    again: list[dict[str, Any]] = []
    finished = resume(saver, again)  # a finished thread is returned as saved
    assert finished.text == plain.text
    assert again == []
    assert finished.resumed_commits == len(plain.commits)


# --- refusals ------------------------------------------------------------------------------


@pytest.fixture
def half_done() -> InMemorySaver:
    """A checkpoint of the run stopped by a token budget after some commits."""
    saver = InMemorySaver()
    result = run(config=CONFIG.replace(max_model_tokens=60), checkpointer=saver, thread_id=THREAD)
    assert result.stop_reason == "token_budget"
    return saver


def test_resume_without_a_checkpoint_is_a_resume_error():
    with pytest.raises(ResumeError, match="no checkpoint"):
        resume(InMemorySaver(), [])


def test_resume_with_other_settings_is_refused(half_done):
    with pytest.raises(ResumeError, match="seed"):
        resume(half_done, [], config=CONFIG.replace(seed=1))


def test_resume_of_another_prompt_is_refused(half_done):
    with pytest.raises(ResumeError, match="another prompt"):
        run(messages=[("user", "hello")], checkpointer=half_done, thread_id=THREAD)


def test_resume_with_another_model_is_refused(half_done):
    class Other(FakeBackend):
        model_name = "other"

    with pytest.raises(ResumeError, match="other"):
        resume_rain(Other(), MESSAGES, checkpointer=half_done, thread_id=THREAD, config=CONFIG)


def test_budgets_may_change_on_resume(half_done):
    events: list[dict[str, Any]] = []
    result = resume(half_done, events, config=CONFIG.replace(max_model_tokens=10**6))
    assert result.stop_reason == "token_budget"  # the saved run had ended: returned as saved
    assert events == []


def test_checkpointer_needs_a_thread_id():
    with pytest.raises(ConfigError, match="thread_id"):
        run(checkpointer=InMemorySaver())
