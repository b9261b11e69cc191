"""ChatRAIN's settings: SearchConfig's fields as ChatRAIN fields, and checks of what it is given.

The checks cover constructor and call arguments, the criterion and the evaluator, so that
nothing a user gives is silently ignored.

SearchConfig owns every search setting with its range and default. ChatRAIN exposes each one
as a field of the same name that defaults to None ("not set"); only the fields that are set
reach SearchConfig, so every default lives in one place (the pattern of langchain-ollama's
``ChatOllama``, whose fields default to None and reach the request only when set). A field
added to SearchConfig becomes a ChatRAIN field and a call-time argument without more code.

Two fields keep LangChain's standard names: ``max_tokens`` is SearchConfig's
``max_new_tokens`` and ``timeout`` its ``max_seconds``; both names are accepted.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import AliasChoices, Field, ValidationError, create_model

from rain_guard.errors import (
    ConfigError,
    CriterionError,
    RainGuardError,
    UnsupportedError,
)
from rain_guard.judging.criteria import BUILTIN_CRITERIA, Criterion
from rain_guard.judging.evaluator import Evaluator, FunctionEvaluator
from rain_guard.judging.named import NAMED_EVALUATORS
from rain_guard.judging.prompts import REQUIRED_PLACEHOLDERS
from rain_guard.judging.templates import criterion_from_template
from rain_guard.search.config import SearchConfig

CHAT_NAMES = {"max_new_tokens": "max_tokens", "max_seconds": "timeout"}
"""SearchConfig field -> ChatRAIN field, where LangChain has a standard name for it."""
SEARCH_NAMES = {chat: search for search, chat in CHAT_NAMES.items()}
"""ChatRAIN field -> SearchConfig field, for the renamed ones."""
ALIASES = {"model_name": "model", **CHAT_NAMES}
"""Second names ChatRAIN accepts for a field (second name -> field)."""

GUARD_PATTERN = """Let a tool-calling model run the agent, and guard its answers with RAIN:

    from langchain.agents import create_agent
    from rain_guard.middleware import RainGuardMiddleware

    agent = create_agent(tool_model, tools, middleware=[RainGuardMiddleware(ChatRAIN())])

or, in a LangGraph graph, a RainGuardNode(ChatRAIN()) after the agent node (rain_guard.guard)."""
NO_TOOLS = (
    "ChatRAIN cannot call tools: RAIN's search weighs and commits plain text and has no "
    "tool-call grammar, and its default 135M model cannot call tools. " + GUARD_PATTERN
)
NO_STRUCTURED_OUTPUT = (
    "ChatRAIN cannot give structured output: RAIN's search weighs and commits plain text, "
    "with no JSON grammar or tool call to fill a schema. Let a model with structured output "
    "produce it, and guard the text answers of your agent with RAIN. " + GUARD_PATTERN
)
NO_GREEDY = (
    "temperature=0 asks for greedy decoding, which RAIN cannot do: its search needs diverse "
    "candidate token sets to weigh against each other. Leave temperature unset (SearchConfig's "
    "{default}) and set seed= for repeatable answers, or use use_rain=False for plain greedy "
    "decoding."
)
UNSUPPORTED_CALL_ARGUMENTS = {
    "tools": NO_TOOLS,
    "tool_choice": NO_TOOLS,
    "functions": NO_TOOLS,
    "function_call": NO_TOOLS,
    "parallel_tool_calls": NO_TOOLS,
    "response_format": NO_STRUCTURED_OUTPUT,
    "strict": NO_STRUCTURED_OUTPUT,
}
"""Call-time arguments of other chat models that ChatRAIN cannot honour, with the reason."""


def chat_name(search_name: str) -> str:
    """The ChatRAIN field of a SearchConfig field (the same name unless renamed)."""
    return CHAT_NAMES.get(search_name, search_name)


def search_name(name: str) -> str:
    """The SearchConfig field a ChatRAIN field or call argument names."""
    return SEARCH_NAMES.get(name, name)


def _flat_field(name: str) -> tuple[Any, Any]:
    """A ChatRAIN field for SearchConfig's ``name``: its type or None, default None."""
    info = SearchConfig.model_fields[name]
    description = f"{info.description} Unset (None): SearchConfig's {info.default!r}."
    if name in CHAT_NAMES:  # accept SearchConfig's name too
        alias = AliasChoices(CHAT_NAMES[name], name)
        return info.annotation | None, Field(None, validation_alias=alias, description=description)
    return info.annotation | None, Field(None, description=description)


SearchFields: type[BaseChatModel] = create_model(
    "SearchFields",
    __base__=BaseChatModel,
    __module__=__name__,
    __doc__="BaseChatModel plus one optional field per SearchConfig field (see module doc).",
    **{chat_name(name): _flat_field(name) for name in SearchConfig.model_fields},
)
"""Base class of ChatRAIN: every SearchConfig field as an optional ChatRAIN field."""


def flat_settings(model: BaseChatModel) -> dict[str, Any]:
    """The SearchConfig fields set on ``model`` (not None), under SearchConfig's names."""
    settings = {}
    for name in SearchConfig.model_fields:
        value = getattr(model, chat_name(name))
        if value is not None:
            settings[name] = value
    return settings


def build_search_config(
    base: SearchConfig | None, flat: Mapping[str, Any], overrides: Mapping[str, Any]
) -> SearchConfig:
    """``base`` (or SearchConfig's defaults) with the flat fields, then ``overrides``, applied.

    Raises:
        ConfigError: a value out of range or inconsistent; the message uses ChatRAIN's names.
    """
    changes = {**flat, **{search_name(k): v for k, v in overrides.items()}}
    try:
        return (base or SearchConfig()).replace(**changes)
    except ConfigError as exc:  # name ChatRAIN's fields, not SearchConfig's
        raise ConfigError(chat_field_names(str(exc))) from exc


def chat_field_names(message: str) -> str:
    """A SearchConfig error message with the ChatRAIN names of renamed fields."""
    message = message.replace("invalid SearchConfig", "invalid ChatRAIN settings", 1)
    for config_name, name in CHAT_NAMES.items():
        message = re.sub(rf"\b{config_name}\b", name, message)
    return message


def call_settings(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The search settings a call passes (``invoke(..., t_max=3)``), by SearchConfig's names.

    Every SearchConfig field is a call-time argument (``max_tokens`` and ``timeout`` too);
    ``model`` selects the model and is not a search setting; None means "not set".

    Raises:
        UnsupportedError: a tool-calling or structured-output argument (``tools=``, ...).
        ConfigError: an unknown argument, with the closest known name as a hint.
    """
    settings, unknown = {}, []
    for name, value in kwargs.items():
        if name in UNSUPPORTED_CALL_ARGUMENTS:
            raise UnsupportedError(
                f"unsupported call argument {name}=: {UNSUPPORTED_CALL_ARGUMENTS[name]}"
            )
        if name == "model" or value is None:
            continue
        if search_name(name) in SearchConfig.model_fields:
            settings[search_name(name)] = value
        else:
            unknown.append(name)
    if unknown:
        known = [*SearchConfig.model_fields, *SEARCH_NAMES, "model"]
        raise unknown_names_error("call argument", unknown, known)
    return settings


def typed_error(exc: ValidationError, known: Iterable[str]) -> RainGuardError:
    """The RainGuardError a validator raised inside ``exc``, else a ConfigError naming fields.

    Args:
        exc: pydantic's error from ChatRAIN's constructor.
        known: Every name the constructor accepts, for "did you mean" hints.
    """
    for err in exc.errors():
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, RainGuardError):
            return inner
    extra = [str(err["loc"][0]) for err in exc.errors() if err["type"] == "extra_forbidden"]
    if extra:
        return unknown_names_error("setting", extra, known)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "ChatRAIN"
        parts.append(f"{where}: {err['msg']} (got {err.get('input')!r:.60})")
    return ConfigError("invalid ChatRAIN settings: " + "; ".join(parts))


def unknown_names_error(kind: str, names: Iterable[str], known: Iterable[str]) -> ConfigError:
    """ConfigError naming each unknown ``kind`` ("setting", "call argument") with a hint.

    A second name given together with its field's first name is named as such.
    """
    known = sorted(set(known))
    parts = []
    for name in names:
        if name in ALIASES:
            parts.append(f"{name!r} and {ALIASES[name]!r} name the same {kind}; give one of them")
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        parts.append(f"unknown {kind} {name!r}{hint}")
    return ConfigError("; ".join(parts))


def check_evaluator(evaluator: Any) -> Evaluator | None:
    """``evaluator`` as an Evaluator: a plain ``fn(prompt, answer) -> float`` is wrapped.

    Raises:
        ConfigError: anything else (a class instead of an instance, a string, ...).
    """
    if evaluator is None or (isinstance(evaluator, Evaluator) and not isinstance(evaluator, type)):
        return evaluator
    if callable(evaluator) and not isinstance(evaluator, type):
        return FunctionEvaluator(evaluator, name=getattr(evaluator, "__name__", "function"))
    raise ConfigError(
        f"evaluator must be an Evaluator (an object with score(prompt, answers) -> list of "
        f"floats in [-1, 1]) or a function fn(prompt, answer) -> float in [-1, 1], got "
        f"{evaluator!r:.80}"
    )


def check_criterion(criterion: Any) -> None:
    """Fail at construction on what can be checked without a model: names and templates.

    ``None`` (the model's default judge, see ``judging.resolve``) always passes.
    """
    if criterion is None:
        return
    if isinstance(criterion, dict):
        if not criterion:
            raise CriterionError("a criterion dict needs at least one {criterion: weight}")
        for name, weight in criterion.items():
            if not isinstance(weight, int | float) or weight <= 0:
                raise CriterionError(f"criterion weight for {name!r} must be > 0, got {weight!r}")
            check_criterion(name)
    elif isinstance(criterion, str) and "{" not in criterion:
        if criterion not in BUILTIN_CRITERIA and criterion not in NAMED_EVALUATORS:
            needs = ", ".join("{" + name + "}" for name in sorted(REQUIRED_PLACEHOLDERS))
            raise CriterionError(
                f"unknown criterion {criterion!r}; built-ins: "
                f"{sorted([*BUILTIN_CRITERIA, *NAMED_EVALUATORS])} "
                f"(or pass a template with {needs})"
            )
    elif not isinstance(criterion, Criterion):
        criterion_from_template(criterion)  # raises CriterionError on a malformed template
