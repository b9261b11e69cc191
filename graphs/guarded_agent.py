"""A small tool-using agent with the RAIN guard at its exit, for `langgraph dev` / Studio.

The agent answers with the embedded SmolLM2 decoding plainly (fast, unguarded); the guard
judges each final answer and replaces a rejected one in place with RAIN's regeneration, or
with a refusal when the regeneration is rejected too (``response_metadata["rain_guard"]``
holds both scores). What the default judge lets through: ``RainGuardNode``'s docstring.
Weights load on the first request, not at import.
"""

import sys
from pathlib import Path

from rain_guard import ChatRAIN
from rain_guard.agent_graph import build_guarded_agent
from rain_guard.guard import RainGuardNode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from demo_tools import calculator, choose_calculator  # noqa: E402  (examples/demo_tools.py)

agent_model = ChatRAIN(use_rain=False, max_tokens=64)
guard = RainGuardNode(ChatRAIN(max_tokens=64, t_min=2, t_max=8), threshold=0.0)

graph = build_guarded_agent(agent_model, guard, [calculator], tool_chooser=choose_calculator)
