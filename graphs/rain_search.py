"""The RAIN search graph for `langgraph dev` / LangGraph Studio (see langgraph.json).

Studio shows the entry step (prepare) and the search's nodes (select, expand, evaluate,
backward, commit) with their conditional edges. Input: ``{"prompt": "...", "system": "..."}``
(system optional). Context (all optional, JSON): ``model`` ("smollm2", the embedded default),
``criterion`` ("harmless"), ``config`` (SearchConfig settings such as ``{"t_min": 2,
"t_max": 8, "num_candidates": 4, "max_new_tokens": 24}``; the defaults are the reference's,
minutes per answer on a CPU), ``stop``. The model loads on the first run, not at import. The
answer is the committed text: the ``text`` of each record in ``commits``.
"""

from rain_guard.search.graph import build_rain_graph

graph = build_rain_graph(from_prompt=True)
