"""One home per setting: SearchConfig owns every default; ChatRAIN and the CLI reach every field.

The walk over ``SearchConfig.model_fields`` is the contract: a field added to SearchConfig
must reach it from ChatRAIN (by the field's name, at construction and per call) and from the
``rain-guard`` command line, or these tests fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from rain_guard import ChatRAIN, FakeBackend, HashEmbedder
from rain_guard.chat_settings import CHAT_NAMES
from rain_guard.cli.app import build_parser
from rain_guard.cli.options import config_from_args
from rain_guard.errors import ConfigError
from rain_guard.search.config import SearchConfig

FIELDS = list(SearchConfig.model_fields)


def other_value(name: str) -> Any:
    """A valid value of field ``name`` that differs from its default."""
    if name == "t_max_schedule":
        return (50, 12)  # each value must stay >= t_min (6)
    default = SearchConfig.model_fields[name].default
    if isinstance(default, bool):
        return not default
    if isinstance(default, tuple):
        return (3,)
    if isinstance(default, str):
        return default[:2]
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):
        return default / 2 if default else -0.5
    return 7  # an unset budget (None): any positive number


def cli_args(name: str, value: Any) -> list[str]:
    """The command-line words that set field ``name`` to ``value``."""
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else "--no-" + flag[2:]]
    if isinstance(value, tuple):
        return [flag, *(str(v) for v in value)]
    return [flag, str(value)]


def chat(**settings: Any) -> ChatRAIN:
    return ChatRAIN(backend=FakeBackend(), **settings)


@pytest.mark.parametrize("name", FIELDS)
def test_every_field_reaches_search_config_from_chat_rain_by_its_name(name):
    value = other_value(name)
    assert getattr(SearchConfig(), name) != value
    assert getattr(chat(**{name: value}).search_config(), name) == value


@pytest.mark.parametrize("name", FIELDS)
def test_every_field_reaches_search_config_from_the_cli(name):
    value = other_value(name)
    args = build_parser().parse_args(["generate", "hi", *cli_args(name, value)])
    assert getattr(config_from_args(args), name) == value


@pytest.mark.parametrize("name", FIELDS)
def test_unset_chat_rain_fields_are_none_and_leave_the_default_to_search_config(name):
    field = CHAT_NAMES.get(name, name)
    assert getattr(chat(), field) is None
    assert SearchConfig.model_fields[name].description in ChatRAIN.model_fields[field].description


def test_chat_rain_repeats_no_default():
    assert chat().search_config() == SearchConfig()


@pytest.mark.parametrize(("search", "chat_name"), sorted(CHAT_NAMES.items()))
def test_langchain_standard_names_are_the_renamed_fields(search, chat_name):
    assert getattr(chat(**{chat_name: 9}).search_config(), search) == 9


def test_a_search_config_passes_through_and_flat_fields_win():
    base = SearchConfig(t_min=2, t_max=20, seed=5)
    config = chat(search=base, t_max=8, max_tokens=12).search_config()
    assert (config.t_min, config.t_max, config.seed, config.max_new_tokens) == (2, 8, 5, 12)
    assert chat(search=base).search_config() == base


def test_a_flat_field_inconsistent_with_the_search_config_is_named():
    with pytest.raises(ConfigError, match=r"t_min \(30\) must not exceed t_max \(20\)"):
        chat(search=SearchConfig(t_max=20), t_min=30)


def test_errors_name_chat_rain_fields_not_search_config_fields():
    with pytest.raises(ConfigError) as info:
        chat(max_new_tokens=0)
    assert "max_tokens" in str(info.value) and "max_new_tokens" not in str(info.value)
    assert "SearchConfig" not in str(info.value)


def test_the_cli_help_shows_each_field_with_its_description_and_default(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--t-max N Inner iterations after which a commit is forced (T). (default: 50)" in (
        help_text
    )
    for name in FIELDS:
        assert "--" + name.replace("_", "-") in help_text


def test_the_similarity_update_is_on_unless_switched_off():
    embedder = HashEmbedder()
    assert chat(embedder=embedder).get_embedder() is embedder  # unset: SearchConfig's on
    assert chat(embedder=embedder, use_similarity=False).get_embedder() is None
    search = SearchConfig(use_similarity=False)
    assert chat(embedder=embedder, search=search).get_embedder() is None
