"""The RAIN search graph for `langgraph dev` / LangGraph Studio (see langgraph.json).

Studio shows the nodes (select, expand, evaluate, backward, commit) and their conditional
edges. Running it needs a ``RainContext`` (model handles are never part of graph state).
"""

from rain_guard.search.graph import build_rain_graph

graph = build_rain_graph()
