"""ChatRAIN's search settings: SearchConfig's fields as ChatRAIN fields, unset until given.

SearchConfig owns every search setting with its range and default. ChatRAIN exposes each one
as a field of the same name that defaults to None ("not set"); only the fields that are set
reach SearchConfig, so every default lives in one place (the pattern of langchain-ollama's
``ChatOllama``, whose fields default to None and reach the request only when set). A field
added to SearchConfig becomes a ChatRAIN field and a call-time argument without more code.

Two fields keep LangChain's standard names: ``max_tokens`` is SearchConfig's
``max_new_tokens`` and ``timeout`` its ``max_seconds``; both names are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import AliasChoices, Field, ValidationError, create_model

from rain_guard.errors import ConfigError, RainGuardError
from rain_guard.search.config import SearchConfig

CHAT_NAMES = {"max_new_tokens": "max_tokens", "max_seconds": "timeout"}
"""SearchConfig field -> ChatRAIN field, where LangChain has a standard name for it."""
SEARCH_NAMES = {chat: search for search, chat in CHAT_NAMES.items()}
"""ChatRAIN field -> SearchConfig field, for the renamed ones."""


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


def typed_error(exc: ValidationError) -> RainGuardError:
    """The RainGuardError a validator raised inside ``exc``, else a ConfigError naming fields."""
    for err in exc.errors():
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, RainGuardError):
            return inner
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "ChatRAIN"
        parts.append(f"{where}: {err['msg']} (got {err.get('input')!r:.60})")
    return ConfigError("invalid ChatRAIN settings: " + "; ".join(parts))
