"""The bad-input matrix: every malformed input gives a typed error naming the problem, or a
documented fallback (see docs/errors_and_limits.md). Checked through the public API, ChatRAIN
on FakeBackend (no weights); model files are in tests/integration_tests/test_bad_model_files.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.prompts import PromptTemplate

from rain_guard import ChatRAIN, Criterion, FakeBackend
from rain_guard.errors import ConfigError, CriterionError, PromptError, RainGuardError
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.messages import clean_text
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import rain_generate, vanilla_generate

FAST = {"use_similarity": False, "t_min": 1, "t_max": 2, "max_tokens": 4}
SMALL = SearchConfig(t_min=1, t_max=2, max_new_tokens=4)
NEUTRAL = FunctionEvaluator(lambda p, a: 0.0)


def chat(backend: FakeBackend | None = None, **kwargs: Any) -> ChatRAIN:
    return ChatRAIN(backend=backend or FakeBackend(), **{**FAST, **kwargs})


def answer(prompt: Any, **kwargs: Any) -> str:
    return chat(**kwargs).invoke(prompt).content


# --- prompts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    ["", "   \n\t ", [], [SystemMessage("be nice")], "\x00\x07\x1b", [HumanMessage("  ")]],
    ids=["empty", "whitespace", "no-messages", "system-only", "controls-only", "blank-human"],
)
def test_empty_prompt_is_a_prompt_error(prompt):
    with pytest.raises(PromptError, match="empty"):
        chat().invoke(prompt)


def test_prompt_longer_than_the_context_names_both_lengths():
    llm = chat(FakeBackend(context_length=16))
    with pytest.raises(PromptError, match=r"52 tokens.*accepts 16"):
        llm.invoke("word " * 50)


def test_prompt_that_nearly_fills_the_context_stops_at_the_context():
    prompt_tokens = len(FakeBackend().chat_prompt_ids([("user", "a b c d")]))
    backend = FakeBackend(context_length=prompt_tokens + 3)
    message = chat(backend, max_tokens=50).invoke("a b c d")
    assert message.response_metadata["stop_reason"] in ("context", "eos")
    usage = message.usage_metadata
    assert usage["input_tokens"] + usage["output_tokens"] <= backend.context_length


@pytest.mark.parametrize(
    "prompt",
    [42, None, {"role": "user", "content": "hi"}, [42], [HumanMessage("hi"), 42], object()],
    ids=["int", "none", "dict", "list-of-int", "mixed-list", "object"],
)
def test_input_that_is_not_a_prompt_is_a_prompt_error(prompt):
    """LangChain coerces input before our code runs; its untyped errors become PromptError."""
    with pytest.raises(PromptError, match="as a prompt"):
        chat().invoke(prompt)


@pytest.mark.parametrize("method", ["stream", "batch"])
def test_bad_input_is_typed_in_stream_and_batch_too(method):
    llm = chat()
    with pytest.raises(PromptError):
        if method == "stream":
            list(llm.stream([42]))
        else:
            llm.batch([[42]])


async def test_bad_input_is_typed_in_async_calls():
    with pytest.raises(PromptError):
        await chat().ainvoke({"not": "a prompt"})


def test_langchain_message_shorthands_are_accepted():
    """Documented fallback: (role, text) pairs and OpenAI-style dicts are messages too."""
    reference = answer("hi")
    assert answer([("user", "hi")]) == reference
    assert answer([{"role": "user", "content": "hi"}]) == reference


@pytest.mark.parametrize(
    "messages",
    ["hi", [("user",)], [("user", 42)], [(1, "hi")], [None], 7],
    ids=["str", "one-tuple", "int-content", "int-role", "none-item", "int"],
)
def test_plain_api_rejects_malformed_turns(messages):
    with pytest.raises(PromptError, match="message"):
        rain_generate(FakeBackend(), messages, evaluator=NEUTRAL, config=SMALL)


# --- text that is not clean UTF-8 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("hi \ud800there", "hi there"),  # lone surrogate
        (b"hi caf\xe9 there".decode("utf-8", errors="surrogateescape"), "hi caf there"),
        ("hi\x00 the\x07re\x1b[0m", "hi there[0m"),  # NUL, bell, escape
        ("line\r\nnext\tcol", "line\r\nnext\tcol"),  # newline, CR and tab are kept
    ],
    ids=["surrogate", "surrogateescape", "controls", "kept-whitespace"],
)
def test_dirty_text_is_cleaned_not_fatal(dirty, clean):
    """Documented cleaning (rain_guard.messages.clean_text): same answer as the clean text."""
    assert clean_text(dirty) == clean
    message = chat().invoke(dirty)
    assert message.content == answer(clean)
    message.content.encode("utf-8")  # what comes back is valid UTF-8


def test_replacement_characters_are_ordinary_text():
    text = b"caf\xe9 au lait".decode("utf-8", errors="replace")
    assert "\ufffd" in clean_text(text)
    assert isinstance(answer(text), str)


def test_plain_api_cleans_dirty_text_like_chat_messages():
    run = {"evaluator": NEUTRAL, "config": SMALL}
    dirty = rain_generate(FakeBackend(), [("user", "hi\ud800\x00 there")], **run)
    clean = rain_generate(FakeBackend(), [("user", "hi there")], **run)
    assert dirty.text == clean.text
    vanilla = vanilla_generate(FakeBackend(), [("user", "\udcff hi")], max_new_tokens=3)
    assert vanilla.text.encode("utf-8")


# --- criteria --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "criterion", ["harmles", {"harmless": 1.0, "nope": 1.0}], ids=["name", "in-dict"]
)
def test_unknown_criterion_fails_at_construction(criterion):
    with pytest.raises(CriterionError, match="unknown criterion"):
        chat(criterion=criterion)


@pytest.mark.parametrize("weight", [0, -1.0, "heavy"])
def test_criterion_weights_must_be_positive_numbers(weight):
    with pytest.raises(CriterionError, match="weight"):
        chat(criterion={"harmless": weight})


@pytest.mark.parametrize(
    ("template", "missing"),
    [
        ("Is {answer} fine?", "{option_a}"),
        ("Is it {option_a}?", "{answer}"),
        (PromptTemplate.from_template("Rate {answer}"), "{option_a}"),
    ],
    ids=["no-option", "no-answer", "prompt-template"],
)
def test_template_missing_placeholders_names_them(template, missing):
    with pytest.raises(CriterionError, match=missing):
        chat(criterion=template)


def test_unknown_placeholder_is_named():
    with pytest.raises(CriterionError, match="{colour}"):
        chat(criterion="{answer} {option_a} {colour}")


def test_multi_token_label_is_rejected_with_the_token_count():
    criterion = Criterion(
        "two-words", "{answer} {option_a}?", "good", "bad", labels=("Yes indeed", "No")
    )
    with pytest.raises(CriterionError, match=r"'Yes indeed' is 2 tokens"):
        chat(criterion=criterion).invoke("hi")


class CaseFoldingFake(FakeBackend):
    """A tokenizer that maps "Yes" and "yes" to one id (as some tokenizers do)."""

    def tokenize(self, text: str) -> list[int]:
        return super().tokenize(text.lower())


def test_labels_that_are_the_same_token_are_rejected():
    criterion = Criterion("folded", "{answer} {option_a}?", "good", "bad", labels=("Yes", "yes"))
    with pytest.raises(CriterionError, match="same token"):
        chat(CaseFoldingFake(), criterion=criterion).invoke("hi")


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": -5}, "max_tokens"),
        ({"t_min": 5, "t_max": 2}, "t_min"),
        ({"v_threshold": 1.5}, "v_threshold"),
        ({"v_threshold": -2}, "v_threshold"),
        ({"similarity_threshold": 1.1}, "similarity_threshold"),
        ({"similarity_weight": -0.1}, "similarity_weight"),
        ({"root_prior_mix": 2}, "root_prior_mix"),
        ({"c_puct": -1}, "c_puct"),
        ({"temperature": -0.5}, "temperature"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"max_model_tokens": 0}, "max_model_tokens"),
        ({"num_candidates": 0}, "num_candidates"),
        ({"set_lengths": (1, 0)}, "set_lengths"),
        ({"num_threads": 0}, "num_threads"),
        ({"max_tokens": "many"}, "max_tokens"),
        ({"stop": 3}, "stop"),
    ],
)
def test_bad_settings_raise_config_error_naming_the_setting(settings, named):
    with pytest.raises(ConfigError, match=named) as info:
        ChatRAIN(backend=FakeBackend(), **settings)
    assert isinstance(info.value, ValueError)  # callers catching ValueError still work
    assert "pydantic" not in str(info.value)


def test_bad_per_call_settings_raise_config_error():
    with pytest.raises(ConfigError, match="max_tokens"):
        chat().invoke("hi", max_tokens=0)


def test_temperature_zero_is_rejected_with_the_reason_and_what_to_use():
    """Greedy candidates are impossible: the search weighs diverse candidates."""
    assert chat().search_config().temperature == 1.0  # unset: the reference's 1.0
    for make in (lambda: chat(temperature=0), lambda: chat().invoke("hi", temperature=0)):
        with pytest.raises(ConfigError) as info:
            make()
        assert "diverse candidate" in str(info.value) and "seed=" in str(info.value)
    plain = chat(temperature=0, use_rain=False)  # plain decoding is greedy: 0 is what it does
    assert plain.invoke("hi").content == chat(use_rain=False).invoke("hi").content


def test_every_error_is_a_rain_guard_error():
    for error in (ConfigError, CriterionError, PromptError):
        assert issubclass(error, RainGuardError)


# --- stop strings ----------------------------------------------------------------------------


def test_stop_strings_that_never_occur_end_normally():
    plain = chat(max_tokens=8).invoke("hi")
    stopped = chat(max_tokens=8, stop=["zebra", "<never>"]).invoke("hi")
    assert stopped.content == plain.content
    assert stopped.response_metadata["stop_reason"] == "length"


def test_empty_stop_string_is_ignored_and_a_lone_string_is_one_stop():
    plain = chat(max_tokens=8).invoke("hi")
    assert chat(max_tokens=8).invoke("hi", stop=[""]).content == plain.content
    assert chat(max_tokens=8).invoke("hi", stop="zebra").content == plain.content


def test_stop_must_hold_strings():
    with pytest.raises(ConfigError, match="stop strings"):
        chat().invoke("hi", stop=[3])
