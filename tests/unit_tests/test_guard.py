"""The RAIN guard node, its router, the middleware and the guarded agent graph."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_tools import calculator, choose_calculator
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from rain_guard import ChatRAIN, FakeBackend, FunctionEvaluator
from rain_guard.agent_graph import build_guarded_agent
from rain_guard.errors import ConfigError
from rain_guard.guard import DEFAULT_FALLBACK, RainGuardNode, guard_condition
from rain_guard.messages import to_turns

SNAPSHOT = Path(__file__).parent / "snapshots" / "guarded_agent.mmd"


def no_bomb(prompt: str, answer: str) -> float:
    return -1.0 if "bomb" in answer else 1.0


def rain_llm(judge=no_bomb) -> ChatRAIN:
    return ChatRAIN(
        backend=FakeBackend(boost={" bomb": 1.0}),
        evaluator=FunctionEvaluator(judge),
        use_similarity=False,
        max_tokens=12,
        t_min=2,
        t_max=12,
        rollout_max_tokens=4,
    )


def reject_all(prompt: str, answer: str) -> float:
    return -1.0


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
    assert meta["action"] == "regenerated" and meta["regenerated_score"] == 1.0
    assert meta["threshold"] == 0.0 and meta["regenerated_content"] == answers[0].text


def test_tool_calls_are_untouched_and_routed_to_tools():
    tool_call = {"name": "calculator", "args": {"expression": "1+1"}, "id": "t"}
    call = AIMessage("", tool_calls=[tool_call])
    state = {"messages": [HumanMessage("bomb 1+1"), call]}
    assert RainGuardNode(rain_llm())(state) == {}
    assert guard_condition(state) == "tools"
    assert guard_condition({"messages": [HumanMessage("x"), AIMessage("y")]}) == "rain_guard"


def test_threshold_out_of_range_is_a_typed_error():
    with pytest.raises(ConfigError, match="threshold"):
        RainGuardNode(rain_llm(), threshold=2.0)


@pytest.mark.parametrize(
    "setting",
    [
        {"threshold": float("nan")},
        {"threshold": "0.5"},
        {"fallback": ""},
        {"fallback": 42},
        {"evaluator": no_bomb},  # a plain function, not an Evaluator
        {"evaluator": FunctionEvaluator},  # the class, not an instance
    ],
)
def test_bad_guard_settings_are_config_errors(setting):
    with pytest.raises(ConfigError, match=next(iter(setting))):
        RainGuardNode(rain_llm(), **setting)


def test_a_judge_scoring_outside_minus_one_to_one_raises_instead_of_passing():
    class Percent:
        def score(self, prompt, answers):
            return [80.0 for _ in answers]  # a 0-100 scale would pass every threshold

    state = {"messages": [HumanMessage("hi"), AIMessage("hello there", id="a1")]}
    with pytest.raises(ConfigError, match=r"Percent scored 80.0 .* \[-1, 1\]"):
        RainGuardNode(rain_llm(), evaluator=Percent())(state)


def test_guard_needs_a_chat_rain_and_says_what_to_pass():
    with pytest.raises(
        ConfigError, match=r"RainGuardNode needs a ChatRAIN.*RainGuardNode\(ChatRAIN"
    ):
        RainGuardNode("x")


def test_the_regeneration_is_judged_and_both_scores_recorded():
    calls = []

    def judge(prompt: str, answer: str) -> float:
        calls.append(answer)
        return no_bomb(prompt, answer)

    state = {"messages": [HumanMessage("how to make a bomb"), AIMessage("a bomb", id="a1")]}
    replacement = RainGuardNode(rain_llm(judge))(state)["messages"][0]
    assert replacement.text in calls  # the guard asked the judge about the new text
    meta = replacement.response_metadata["rain_guard"]
    assert (meta["original_score"], meta["regenerated_score"]) == (-1.0, 1.0)


def test_a_regeneration_still_rejected_becomes_the_fallback():
    llm = rain_llm(reject_all)  # RAIN finds nothing the judge accepts
    state = {"messages": [HumanMessage("how to make a bomb"), AIMessage("a bomb", id="a1")]}
    replacement = RainGuardNode(llm)(state)["messages"][0]
    assert replacement.text == DEFAULT_FALLBACK and replacement.id == "a1"
    meta = replacement.response_metadata["rain_guard"]
    assert meta["action"] == "fallback" and meta["regenerated_score"] == -1.0
    assert meta["regenerated_content"]  # RAIN's rejected text stays visible in the record
    custom = RainGuardNode(llm, fallback="Let's talk about something else.")(state)
    assert custom["messages"][0].text == "Let's talk about something else."


def test_fallback_none_keeps_the_regenerated_text_and_says_so():
    llm = rain_llm(reject_all)
    state = {"messages": [HumanMessage("how to make a bomb"), AIMessage("a bomb", id="a1")]}
    replacement = RainGuardNode(llm, fallback=None)(state)["messages"][0]
    meta = replacement.response_metadata["rain_guard"]
    assert meta["action"] == "kept" and replacement.text == meta["regenerated_content"]
    assert meta["regenerated_score"] < 0.0


def test_a_regeneration_identical_to_the_original_is_not_a_replacement():
    llm = rain_llm(reject_all)
    question = [HumanMessage("how to make a cake")]
    same = llm.invoke(question).text  # what RAIN regenerates for this conversation
    state = {"messages": [*question, AIMessage(same, id="a1")]}
    kept = RainGuardNode(llm, fallback=None)(state)["messages"][0]
    assert kept.text == same
    assert kept.response_metadata["rain_guard"]["replaced"] is False
    refused = RainGuardNode(llm)(state)["messages"][0]  # the default: refuse, not "replace"
    assert refused.text == DEFAULT_FALLBACK
    assert refused.response_metadata["rain_guard"]["action"] == "fallback"


def test_the_judge_is_configurable():
    no_hello = FunctionEvaluator(lambda prompt, answer: -1.0 if "hello" in answer else 1.0)
    state = {"messages": [HumanMessage("hi"), AIMessage("hello there", id="a1")]}
    assert RainGuardNode(rain_llm())(state) == {}  # the llm's own judge accepts it
    replaced = RainGuardNode(rain_llm(), evaluator=no_hello)(state)["messages"][0]
    assert replaced.response_metadata["rain_guard"]["original_score"] == -1.0


def test_tool_turns_reach_the_model_as_plain_sentences():
    """A small model copies bracketed markers ("[result of tool ...]") into its answer."""
    call = {"name": "calculator", "args": {"expression": "12 * 7 + 3"}, "id": "c1"}
    turns = to_turns(
        [
            HumanMessage("What is 12 * 7 + 3?"),
            AIMessage("", tool_calls=[call]),
            ToolMessage("87", name="calculator", tool_call_id="c1"),
        ]
    )
    assert turns[1:] == [
        ("assistant", "I will use the calculator tool with expression=12 * 7 + 3."),
        ("user", "The calculator tool returned: 87"),
    ]


def test_guarded_agent_has_json_schemas_for_studio():
    app = build_guarded_agent(GenericFakeChatModel(messages=iter([])), RainGuardNode(rain_llm()))
    assert "messages" in app.get_input_jsonschema()["properties"]
    assert "messages" in app.get_output_jsonschema()["properties"]


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
    assert answers[0].response_metadata["rain_guard"]["regenerated_score"] == 1.0


def test_middleware_passes_guard_settings_and_rejects_a_non_chat_rain():
    pytest.importorskip("langchain.agents")
    from langchain.agents import create_agent

    from rain_guard.middleware import RainGuardMiddleware

    with pytest.raises(ConfigError, match=r"RainGuardMiddleware needs a ChatRAIN"):
        RainGuardMiddleware("x")
    with pytest.raises(ConfigError, match="threshold"):
        RainGuardMiddleware(rain_llm(), threshold=2)
    guard = RainGuardMiddleware(rain_llm(reject_all), fallback="No.")
    model = GenericFakeChatModel(messages=iter([AIMessage("a bomb is easy", id="m1")]))
    final = create_agent(model, tools=[], middleware=[guard]).invoke(
        {"messages": [HumanMessage("how to make a bomb")]}
    )
    assert final["messages"][-1].text == "No."
    assert final["messages"][-1].response_metadata["rain_guard"]["action"] == "fallback"


def test_demo_tool_caller_works_as_a_create_agent_model():
    pytest.importorskip("langchain.agents")
    from demo_tools import DemoToolCaller
    from langchain.agents import create_agent

    from rain_guard.middleware import RainGuardMiddleware

    answerer = GenericFakeChatModel(messages=iter([AIMessage("It is 87.")]))
    agent = create_agent(
        DemoToolCaller(answerer=answerer),
        [calculator],
        middleware=[RainGuardMiddleware(rain_llm())],
    )
    final = agent.invoke({"messages": [HumanMessage("What is 12 * 7 + 3?")]})
    assert [m.type for m in final["messages"]] == ["human", "ai", "tool", "ai"]
    assert final["messages"][2].content == "87" and final["messages"][-1].text == "It is 87."


def test_several_turns_are_regenerated_together_as_each_alone():
    conversations = [
        [HumanMessage("how to make a bomb"), AIMessage("a bomb recipe", id="x1")],
        [HumanMessage("hi"), AIMessage("hello there", id="x2")],
        [HumanMessage("how to bake a cake"), AIMessage("bomb the cake", id="x3")],
    ]
    guard = RainGuardNode(rain_llm())
    for conversation in conversations:  # the fake model's ids follow first tokenisation
        guard.llm.backend.chat_prompt_ids(to_turns(conversation))
    together = guard.check_many(conversations)
    alone = [guard.check(c) for c in conversations]
    assert together[1] is None and alone[1] is None
    for batched, single in zip(together, alone, strict=True):
        if single is not None:
            assert batched.text == single.text and batched.id == single.id
