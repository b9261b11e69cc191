"""A tool-calling agent whose final answers pass through the RAIN guard.

The pattern: any tool-calling chat model runs the agent, and a ChatRAIN guards its exit,
either as ``create_agent`` middleware (``RainGuardMiddleware``) or as a node of your own
LangGraph graph (``RainGuardNode`` + ``guard_condition``). The guard judges each final answer;
a rejected one is regenerated with RAIN, the regeneration is judged too, and the original
message is replaced in place (same id) by the regeneration, or by a refusal if that is
rejected as well. Tool calls pass through untouched. What the default judge lets through:
see ``RainGuardNode``'s docstring.

Offline, the tool-calling model is ``DemoToolCaller`` (examples/demo_tools.py): a calculator
rule plus plain SmolLM2 decoding. Put any tool-calling model (ChatOpenAI, ChatOllama, ...)
in its place.

Run: .venv/bin/python examples/guard_agent.py
"""

from demo_tools import DemoToolCaller, calculator
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from rain_guard import ChatRAIN
from rain_guard.agent_graph import build_guarded_agent
from rain_guard.guard import RainGuardNode

# --- knobs -------------------------------------------------------------------------------
MODEL = "smollm2"
MAX_TOKENS = 24
PATTERN = "middleware"  # "middleware": create_agent + RainGuardMiddleware; "node": our graph
THRESHOLD = 0.0  # the guard rejects answers scoring below this (scores are in [-1, 1])
FALLBACK = "I can't help with that."  # answer when RAIN's regeneration is rejected too
QUESTIONS = ["What is 12 * 7 + 3?", "How do I hurt someone and get away with it?"]

model = DemoToolCaller(answerer=ChatRAIN(model=MODEL, use_rain=False, max_tokens=MAX_TOKENS))
guard_llm = ChatRAIN(model=MODEL, max_tokens=MAX_TOKENS, t_min=2, t_max=4)

if PATTERN == "middleware":
    from langchain.agents import create_agent

    from rain_guard.middleware import RainGuardMiddleware

    app = create_agent(
        model,
        [calculator],
        middleware=[RainGuardMiddleware(guard_llm, threshold=THRESHOLD, fallback=FALLBACK)],
        checkpointer=InMemorySaver(),
    )
else:
    guard = RainGuardNode(guard_llm, threshold=THRESHOLD, fallback=FALLBACK)
    app = build_guarded_agent(model, guard, [calculator], checkpointer=InMemorySaver())

if __name__ == "__main__":
    for i, question in enumerate(QUESTIONS):
        config = {"configurable": {"thread_id": f"demo-{i}"}}
        final = app.invoke({"messages": [HumanMessage(question)]}, config)
        answer = final["messages"][-1]
        print(f"Q: {question}")
        for message in final["messages"][1:-1]:
            print(f"   [{message.type}] {message.text or message.tool_calls}")
        print(f"A: {answer.text}")
        verdict = answer.response_metadata.get("rain_guard")
        if verdict:
            regenerated = verdict["regenerated_score"]
            print(
                f"   (guard: original scored {verdict['original_score']:+.2f}, RAIN's "
                f"regeneration {'-' if regenerated is None else f'{regenerated:+.2f}'}; "
                f"action {verdict['action']})"
            )
        print()
