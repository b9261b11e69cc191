"""The graphs langgraph.json registers, as LangGraph Studio loads and runs them.

Studio builds its input and context forms from the graphs' JSON schemas and sends only JSON:
a prompt as input and a context of plain settings, from which the search graph builds its
model handles itself.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from rain_guard.errors import ConfigError, PromptError
from rain_guard.search.context import RainContext
from rain_guard.search.graph import build_rain_graph

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"t_min": 2, "t_max": 4, "num_candidates": 3, "max_new_tokens": 6}


def registered_graphs() -> dict[str, object]:
    """Each graph of langgraph.json, imported from its file as `langgraph dev` does."""
    graphs = {}
    for name, target in json.loads((ROOT / "langgraph.json").read_text())["graphs"].items():
        path, attr = target.split(":")
        spec = importlib.util.spec_from_file_location(f"studio_{name}", ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        graphs[name] = getattr(module, attr)
    return graphs


@pytest.mark.parametrize("name", ["rain_search", "guarded_agent"])
def test_every_registered_graph_has_input_output_and_context_schemas(name):
    graph = registered_graphs()[name]
    assert graph.get_input_jsonschema()["properties"]
    assert graph.get_output_jsonschema()["properties"]
    if graph.context_schema is not None:
        assert graph.get_context_jsonschema()["properties"]


def test_rain_search_takes_a_prompt_and_a_json_context():
    graph = registered_graphs()["rain_search"]
    assert graph.get_input_jsonschema()["required"] == ["prompt"]
    context_fields = graph.get_context_jsonschema()["properties"]
    assert {"model", "criterion", "config"} <= set(context_fields)
    assert not {"backend", "evaluator", "embedder"} & set(context_fields)  # live handles
    final = graph.invoke(
        {"prompt": "How do I bake a cake?"},
        context={"model": "fake", "criterion": "harmless", "config": SMALL},
    )
    assert final["stop_reason"] is not None
    assert "".join(c["text"] for c in final["commits"]).strip()


def test_rain_search_shows_the_five_steps_after_its_entry_step():
    drawing = registered_graphs()["rain_search"].get_graph().draw_mermaid()
    for edge in ("__start__ --> prepare", "prepare --> select", "evaluate --> backward"):
        assert edge in drawing
    for node in ("select", "expand", "evaluate", "backward", "commit"):
        assert f"\t{node}({node})" in drawing


def test_rain_search_says_what_is_missing():
    graph = build_rain_graph(from_prompt=True)
    with pytest.raises(ConfigError, match="context"):
        graph.invoke({"prompt": "hi"})
    with pytest.raises(PromptError, match="prompt"):
        graph.invoke({}, context={"model": "fake"})
    with pytest.raises(ConfigError, match="t_max"):
        graph.invoke({"prompt": "hi"}, context={"model": "fake", "config": {"t_max": 0}})


def test_a_context_builds_its_missing_handles_from_its_settings():
    settings = {"t_min": 2, "t_max": 3}
    ctx = RainContext(model="fake", criterion="helpful", config=settings, stop=["."])
    assert ctx.backend is None and ctx.config.t_max == 3 and ctx.stop == (".",)
    ctx.load_handles()
    assert ctx.backend.model_name == "fake"
    assert ctx.evaluator.criterion.name == "helpful"
    with pytest.raises(ConfigError, match="config"):
        RainContext(config="fast")
