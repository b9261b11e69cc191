"""A LangChain user's habits with ChatRAIN: nothing given is silently ignored.

Each test pins what a user of other LangChain chat models expects: a typo in a setting is an
error with a hint, call-time arguments are honoured or refused by name, content the model
cannot read raises, tool calling fails at bind time with the pattern that works, token counts
use the model's own tokenizer, the usage counts the search, and a stream never ends empty.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from rain_guard import (
    ChatRAIN,
    ConfigError,
    FakeBackend,
    FunctionEvaluator,
    PromptError,
    SearchConfig,
    UnsupportedError,
)
from rain_guard import chat_model as chat_model_module

FAST = {"use_similarity": False, "t_min": 1, "t_max": 2, "max_tokens": 8}


def chat(**settings: Any) -> ChatRAIN:
    return ChatRAIN(**{"backend": FakeBackend(), **FAST, **settings})


# --- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("max_token", "unknown setting 'max_token'; did you mean 'max_tokens'?"),
        ("tmax", "unknown setting 'tmax'; did you mean 't_max'?"),
        ("devise", "unknown setting 'devise'; did you mean 'device'?"),
        ("model_kwargs", "unknown setting 'model_kwargs'"),
    ],
)
def test_an_unknown_setting_is_refused_with_the_closest_name(setting, message):
    with pytest.raises(ConfigError) as info:
        ChatRAIN(**{setting: 12})
    assert str(info.value).startswith(message)


def test_both_names_of_one_setting_are_refused():
    with pytest.raises(ConfigError, match="'max_new_tokens' and 'max_tokens' name the same"):
        ChatRAIN(max_tokens=12, max_new_tokens=24)


def test_model_name_is_an_alias_of_model_and_an_attribute():
    llm = ChatRAIN(model_name="/models/mine")
    assert llm.model == "/models/mine" and llm.model_name == "/models/mine"
    assert ChatRAIN().model_name == "smollm2"
    assert chat().model_name == "fake"  # the backend's name when one is given


def test_device_and_dtype_reach_the_model_loader(monkeypatch):
    seen: list[tuple[str, dict[str, Any]]] = []

    def fake_load(model: str, **kwargs: Any) -> FakeBackend:
        seen.append((model, kwargs))
        return FakeBackend()

    monkeypatch.setattr(chat_model_module, "load_backend", fake_load)
    ChatRAIN(model="some/model", device="cuda:1", dtype="bfloat16", **FAST).invoke("hi")
    assert seen[0][0] == "some/model"
    assert seen[0][1]["device"] == "cuda:1" and seen[0][1]["dtype"] == "bfloat16"
    ChatRAIN().get_backend()
    assert seen[1][1]["device"] is None and seen[1][1]["dtype"] == "float32"


def test_device_with_a_ready_backend_is_refused_not_ignored():
    with pytest.raises(ConfigError, match="device and dtype apply to the model ChatRAIN loads"):
        chat(device="cuda")
    with pytest.raises(ConfigError, match="dtype"):
        ChatRAIN(dtype="float8")


def test_a_plain_function_evaluator_is_wrapped_and_used():
    def judge(prompt: str, answer: str) -> float:
        return -1.0 if "bomb" in answer else 1.0

    backend = FakeBackend(boost={" bomb": 2.0})
    llm = chat(backend=backend, evaluator=judge, max_tokens=20, t_max=10, rollout_max_tokens=4)
    assert isinstance(llm.evaluator, FunctionEvaluator) and llm.evaluator.name == "judge"
    assert "bomb" not in llm.invoke("how to make a bomb").content


@pytest.mark.parametrize("evaluator", ["harmless", 0.5, FunctionEvaluator])
def test_an_evaluator_that_is_not_one_is_refused_at_construction(evaluator):
    with pytest.raises(ConfigError, match="evaluator must be an Evaluator"):
        chat(evaluator=evaluator)


def test_construction_keeps_langchains_version_metadata():
    assert "lc_versions" in (chat().metadata or {})


# --- calls -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "value"),
    [("tools", [{"name": "add"}]), ("tool_choice", "any"), ("response_format", {"type": "json"})],
)
def test_tool_and_format_arguments_at_call_time_are_refused_by_name(argument, value):
    with pytest.raises(UnsupportedError, match=f"unsupported call argument {argument}="):
        chat().invoke("hi", **{argument: value})


def test_an_unknown_call_argument_is_refused_with_the_closest_name():
    with pytest.raises(ConfigError, match="unknown call argument 'max_token'; did you mean"):
        chat().invoke("hi", max_token=3)


@pytest.mark.parametrize("name", list(SearchConfig.model_fields))
def test_every_search_setting_is_honoured_at_call_time(monkeypatch, name):
    from test_settings_reach import other_value

    seen: list[SearchConfig] = []

    def spy(backend: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["config"])
        raise KeyboardInterrupt  # stop before the search: the settings are what is tested

    monkeypatch.setattr(chat_model_module, "make_context", spy)
    with pytest.raises(KeyboardInterrupt):
        ChatRAIN(backend=FakeBackend()).invoke("hi", **{name: other_value(name)})
    assert getattr(seen[0], name) == other_value(name)


def test_call_time_search_settings_change_the_search():
    message = chat(max_tokens=30).invoke("hi", t_min=1, t_max=1, max_tokens=6)
    meta = message.response_metadata
    assert meta["iterations"] == len(meta["trace"]["commits"])  # one iteration per commit
    assert message.usage_metadata["output_tokens"] <= 6


@pytest.mark.parametrize(
    ("block", "kind"),
    [
        ({"type": "image", "url": "https://example.com/cat.png"}, "image"),
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}, "image_url"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, "audio"),
        ({"type": "file", "base64": "AAAA", "mime_type": "application/pdf"}, "file"),
    ],
)
def test_content_the_model_cannot_read_is_refused_not_dropped(block, kind):
    message = HumanMessage(content=[{"type": "text", "text": "What is this?"}, block])
    for llm in (chat(), chat(use_rain=False)):
        with pytest.raises(PromptError, match=f"message 0 holds {kind} content"):
            llm.invoke([message])


def test_text_blocks_are_read():
    message = HumanMessage(content=[{"type": "text", "text": "hi"}])
    assert chat().invoke([message]).content == chat().invoke("hi").content


def test_model_at_call_time_loads_that_model_or_is_refused(monkeypatch):
    loaded: list[str] = []

    def fake_load(model: str, **kwargs: Any) -> FakeBackend:
        loaded.append(model)
        return FakeBackend()

    monkeypatch.setattr(chat_model_module, "load_backend", fake_load)
    message = ChatRAIN(**FAST).invoke("hi", model="other/model")
    assert loaded == ["other/model"]
    assert message.response_metadata["model_name"] == "other/model"
    with pytest.raises(ConfigError, match="answers with the backend it was given"):
        chat().invoke("hi", model="other/model")


# --- tools and structured output -------------------------------------------------------------


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_bind_tools_fails_at_bind_time_with_the_reason_and_the_guard_pattern():
    with pytest.raises(UnsupportedError) as info:
        chat().bind_tools([add])
    text = str(info.value)
    assert "no tool-call grammar" in text and "135M" in text
    assert "RainGuardMiddleware(ChatRAIN())" in text and "RainGuardNode" in text
    assert isinstance(info.value, NotImplementedError)  # what LangChain callers catch


def test_with_structured_output_fails_at_bind_time_with_the_reason():
    with pytest.raises(UnsupportedError, match="cannot give structured output") as info:
        chat().with_structured_output({"title": "Answer", "type": "object", "properties": {}})
    assert "RainGuardMiddleware" in str(info.value)


def test_create_agent_with_tools_fails_with_the_guard_pattern():
    agents = pytest.importorskip("langchain.agents")
    with pytest.raises(UnsupportedError, match="RainGuardMiddleware"):
        agents.create_agent(chat(), [add]).invoke({"messages": [("user", "add 2 and 3")]})


# --- token counts and usage ------------------------------------------------------------------


def test_token_counts_use_the_models_own_tokenizer(monkeypatch):
    import langchain_core.language_models.base as lc_base

    def no_gpt2() -> Any:
        raise AssertionError("GPT-2 tokenizer requested")

    monkeypatch.setattr(lc_base, "get_tokenizer", no_gpt2)
    backend = FakeBackend()
    llm = chat(backend=backend)
    assert llm.get_token_ids("hello world") == backend.tokenize("hello world")
    assert llm.get_num_tokens("hello world") == len(backend.tokenize("hello world"))
    turns = [("user", "hello world")]
    assert llm.get_num_tokens_from_messages([HumanMessage("hello world")]) == len(
        backend.chat_prompt_ids(turns)
    )


def test_usage_counts_the_search_tokens_in_the_total():
    message = chat(max_tokens=12).invoke("hi")
    usage = message.usage_metadata
    search = usage["output_token_details"]["search"]
    assert search > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] + search
    assert usage["total_tokens"] == message.response_metadata["counters"]["tokens_processed"]


# --- trace and streams -----------------------------------------------------------------------


def test_the_trace_switch_controls_what_messages_carry():
    full = chat(trace="full").invoke("hi").response_metadata["trace"]["commits"]
    summary = chat().invoke("hi").response_metadata["trace"]["commits"]
    assert "alternatives" in full[0]
    assert [set(c) for c in summary] == [{"text", "value", "visits", "iterations"}] * len(full)
    assert [c["text"] for c in summary] == [c["text"] for c in full]
    off = chat(trace="off").invoke("hi").response_metadata
    assert "trace" not in off and off["commit_values"]
    with pytest.raises(ConfigError, match="trace"):
        chat(trace="verbose")


@pytest.mark.parametrize(
    "settings",
    [{}, {"max_tokens": 40}, {"timeout": 60.0}, {"max_model_tokens": 10**6}],
    ids=["length", "eos-or-length", "time-budget-set", "token-budget-set"],
)
def test_a_stream_never_ends_with_an_empty_chunk(settings):
    llm = chat(**settings)
    chunks = list(llm.stream("hi"))
    assert all(c.content for c in chunks)
    assert chunks[-1].chunk_position == "last" and chunks[-1].usage_metadata is not None
    assert "".join(c.content for c in chunks) == llm.invoke("hi").content


async def test_an_async_stream_never_ends_with_an_empty_chunk():
    llm = chat()
    chunks = [c async for c in llm.astream("hi")]
    assert all(c.content for c in chunks) and chunks[-1].usage_metadata is not None
    assert "".join(c.content for c in chunks) == (await llm.ainvoke("hi")).content


# --- judges that break the score contract ----------------------------------------------------


class _FixedJudge:
    """An Evaluator (not a FunctionEvaluator) that gives every answer ``value``."""

    def __init__(self, value: float, count: int | None = None) -> None:
        self.value, self.count = value, count

    def score(self, prompt: str, answers: list[str]) -> list[float]:
        return [self.value] * (len(answers) if self.count is None else self.count)


@pytest.mark.parametrize("value", [5.0, -1.5, float("nan")])
def test_any_judge_scoring_outside_minus_one_to_one_raises_not_clipped(value):
    with pytest.raises(ConfigError, match=r"_FixedJudge scored .* \[-1, 1\]"):
        chat(evaluator=_FixedJudge(value)).invoke("hi")


def test_a_judge_giving_the_wrong_number_of_scores_raises():
    with pytest.raises(ConfigError, match=r"_FixedJudge gave 0 scores for 1 answer"):
        chat(evaluator=_FixedJudge(0.5, count=0)).invoke("hi")


def test_best_of_n_checks_the_judges_scores_too():
    from rain_guard.decoding import METHODS, DecodingContext

    backend = FakeBackend()
    context = DecodingContext(
        backend, SearchConfig(max_new_tokens=4), evaluator_for=lambda b: _FixedJudge(3.0), samples=2
    )
    with pytest.raises(ConfigError, match="_FixedJudge scored 3.0"):
        METHODS["bon"].run(context, [("user", "hi")])
