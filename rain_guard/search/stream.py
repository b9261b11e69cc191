"""stream_graph(): run a compiled graph, yield its states and forward its progress events.

The search graph reports iterations and commits through LangGraph's custom stream
(``runtime.stream_writer``); every runner of the graph (plain generation, the per-commit
search of the resumable graph, the resumable graph itself) wants the states and a callback
for those events, so that loop lives here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from langgraph.graph.state import CompiledStateGraph

OnEvent = Callable[[dict[str, Any]], None]


def stream_graph(
    graph: CompiledStateGraph,
    inputs: Any,
    run_config: dict[str, Any],
    *,
    context: Any,
    on_event: OnEvent | None = None,
    **stream_kwargs: Any,
) -> Iterator[dict[str, Any]]:
    """Yield the state after every super-step; hand each custom event to ``on_event``.

    Args:
        graph: A compiled graph whose nodes may write custom events.
        inputs: Its input state (None resumes a checkpointed thread).
        run_config: LangGraph run config (recursion limit, thread id).
        context: The run context (``RainContext``).
        on_event: Called with every custom event, in order; None drops them.
        **stream_kwargs: Further ``graph.stream`` arguments (e.g. ``durability``).
    """
    for mode, payload in graph.stream(
        inputs, run_config, context=context, stream_mode=["values", "custom"], **stream_kwargs
    ):
        if mode == "custom":
            if on_event is not None:
                on_event(payload)
        else:
            yield payload


def last_state(states: Iterator[dict[str, Any]], default: Any) -> Any:
    """The last state ``states`` yields (``default`` if it yields none)."""
    final = default
    for final in states:  # noqa: B007 - only the last one is wanted
        pass
    return final
