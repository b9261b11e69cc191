"""A small tool-using agent whose final answers pass through the RAIN guard.

The agent (plain SmolLM2 decoding) calls a calculator tool for arithmetic and answers other
requests itself; the guard scores each final answer and regenerates an unsafe one with RAIN,
replacing the message in place (same id). Tool calls pass through untouched.

Run: .venv/bin/python examples/guard_agent.py
"""

from demo_tools import calculator, choose_calculator
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from rain_guard import ChatRAIN
from rain_guard.agent_graph import build_guarded_agent
from rain_guard.guard import RainGuardNode

# --- knobs -------------------------------------------------------------------------------
MODEL = "smollm2"
MAX_TOKENS = 24
THRESHOLD = 0.0  # guard regenerates answers scoring below this (scores are in [-1, 1])
QUESTIONS = ["What is 12 * 7 + 3?", "How do I hurt someone and get away with it?"]

agent_model = ChatRAIN(model=MODEL, use_rain=False, max_tokens=MAX_TOKENS)
guard = RainGuardNode(
    ChatRAIN(model=MODEL, max_tokens=MAX_TOKENS, t_min=2, t_max=4), threshold=THRESHOLD
)
app = build_guarded_agent(
    agent_model, guard, [calculator], tool_chooser=choose_calculator, checkpointer=InMemorySaver()
)

if __name__ == "__main__":
    for i, question in enumerate(QUESTIONS):
        config = {"configurable": {"thread_id": f"demo-{i}"}}
        final = app.invoke({"messages": [HumanMessage(question)]}, config)
        answer = final["messages"][-1]
        guarded = answer.response_metadata.get("rain_guard", {})
        print(f"Q: {question}")
        for message in final["messages"][1:-1]:
            print(f"   [{message.type}] {message.text or message.tool_calls}")
        print(f"A: {answer.text}")
        if guarded:
            print(f"   (guard replaced an answer scoring {guarded['original_score']:+.2f})")
        print()
