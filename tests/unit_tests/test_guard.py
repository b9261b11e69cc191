"""The RAIN guard node, its router, the middleware and the guarded agent graph."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_tools import calculator, choose_calculator
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from rain_guard import ChatRAIN, FakeBackend, FunctionEvaluator
from rain_guard.agent_graph import build_guarded_agent
from rain_guard.errors import PromptError
from rain_guard.guard import RainGuardNode, guard_condition

SNAPSHOT = Path(__file__).parent / "snapshots" / "guarded_agent.mmd"


def no_bomb(prompt: str, answer: str) -> float:
    return -1.0 if "bomb" in answer else 1.0


def rain_llm() -> ChatRAIN:
    return ChatRAIN(
        backend=FakeBackend(boost={" bomb": 1.0}),
        evaluator=FunctionEvaluator(no_bomb),
        use_similarity=False,
        max_tokens=12,
        t_min=2,
        t_max=12,
        rollout_max_tokens=4,
    )


def test_safe_answer_passes_through():
    guard = RainGuardNode(rain_llm())
    state = {"messages": [HumanMessage("hi"), AIMessage("hello there", id="a1")]}
    assert guard(state) == {}


def test_unsafe_answer_is_replaced_in_place_with_the_same_id():
    app = build_guarded_agent(
        GenericFakeChatModel(messages=iter([AIMessage("here is a bomb recipe", id="a1")])),
        RainGuardNode(rain_llm()),
    )
    final = app.invoke({"messages": [HumanMessage("how to make a bomb")]})
    answers = [m for m in final["messages"] if isinstance(m, AIMessage)]
    assert len(answers) == 1  # replaced, not appended
    assert answers[0].id == "a1"
    assert "bomb" not in answers[0].text
    meta = answers[0].response_metadata["rain_guard"]
    assert meta["replaced"] and meta["original_score"] == -1.0
    assert meta["original_content"] == "here is a bomb recipe"


def test_tool_calls_are_untouched_and_routed_to_tools():
    tool_call = {"name": "calculator", "args": {"expression": "1+1"}, "id": "t"}
    call = AIMessage("", tool_calls=[tool_call])
    state = {"messages": [HumanMessage("bomb 1+1"), call]}
    assert RainGuardNode(rain_llm())(state) == {}
    assert guard_condition(state) == "tools"
    assert guard_condition({"messages": [HumanMessage("x"), AIMessage("y")]}) == "rain_guard"


def test_threshold_out_of_range_is_a_typed_error():
    with pytest.raises(PromptError, match="threshold"):
        RainGuardNode(rain_llm(), threshold=2.0)


def test_agent_uses_the_tool_then_answers():
    model = GenericFakeChatModel(messages=iter([AIMessage("The result is 87.", id="a2")]))
    app = build_guarded_agent(
        model, RainGuardNode(rain_llm()), [calculator], tool_chooser=choose_calculator
    )
    final = app.invoke({"messages": [HumanMessage("What is 12 * 7 + 3?")]})
    tool_results = [m for m in final["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_results] == ["87"]
    assert final["messages"][-1].text == "The result is 87."


def test_guarded_agent_graph_shape_snapshot():
    """Regenerate with: UPDATE_SNAPSHOTS=1 pytest tests/unit_tests/test_guard.py."""
    import os

    app = build_guarded_agent(
        GenericFakeChatModel(messages=iter([])), RainGuardNode(rain_llm()), [calculator]
    )
    drawing = app.get_graph().draw_mermaid()
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(drawing)
    assert drawing == SNAPSHOT.read_text()
    for edge in ("agent -.-> rain_guard", "agent -.-> tools", "tools --> agent"):
        assert edge in drawing


def test_conversation_checkpointed_in_sqlite_and_resumed(tmp_path):
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    db = tmp_path / "chat.sqlite"
    replies = iter([AIMessage("hello", id="r1"), AIMessage("still here", id="r2")])

    def build(conn):
        return build_guarded_agent(
            GenericFakeChatModel(messages=replies),
            RainGuardNode(rain_llm()),
            checkpointer=SqliteSaver(conn),
        )

    config = {"configurable": {"thread_id": "t1"}}
    with sqlite3.connect(db, check_same_thread=False) as conn:
        build(conn).invoke({"messages": [HumanMessage("hi")]}, config)
    with sqlite3.connect(db, check_same_thread=False) as conn:  # a new process would do this
        final = build(conn).invoke({"messages": [HumanMessage("are you there?")]}, config)
    texts = [m.text for m in final["messages"]]
    assert texts == ["hi", "hello", "are you there?", "still here"]


def test_middleware_replaces_unsafe_final_answer():
    pytest.importorskip("langchain.agents")
    from langchain.agents import create_agent

    from rain_guard.middleware import RainGuardMiddleware

    model = GenericFakeChatModel(messages=iter([AIMessage("a bomb is easy", id="m1")]))
    agent = create_agent(model, tools=[], middleware=[RainGuardMiddleware(rain_llm())])
    final = agent.invoke({"messages": [HumanMessage("how to make a bomb")]})
    answers = [m for m in final["messages"] if isinstance(m, AIMessage)]
    assert len(answers) == 1 and answers[0].id == "m1"
    assert "bomb" not in answers[0].text
