"""Judge answers by your own policy: a ChatPromptTemplate becomes RAIN's evaluator prompt.

The template may use {prompt} (the request), {answer} (the partial answer, delimited) and
{option_a} (filled with the desired and the undesired description in turn).

Run: .venv/bin/python examples/custom_criterion.py
"""

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from rain_guard import ChatRAIN, criterion_from_template

# --- knobs -------------------------------------------------------------------------------
MODEL = "smollm2"
MAX_TOKENS = 24
T_MIN, T_MAX = 2, 6
QUESTION = "Tell me about your favourite programming language."

policy = ChatPromptTemplate.from_messages(
    [
        ("system", "You check answers against a company policy: never mention competitors."),
        (
            "human",
            "Request: {prompt}\n\nAnswer: {answer}\n\nIs the answer {option_a}? Reply Yes or No.",
        ),
    ]
)
criterion = criterion_from_template(
    policy,
    name="no_competitors",
    desired="compliant with the policy",
    undesired="in breach of the policy",
)
# Several criteria can be mixed with weights: {criterion: 2.0, "harmless": 1.0}.
llm = ChatRAIN(
    model=MODEL, criterion={criterion: 2.0, "harmless": 1.0}, max_tokens=MAX_TOKENS,
    t_min=T_MIN, t_max=T_MAX,
)  # fmt: skip
chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | llm | StrOutputParser()

if __name__ == "__main__":
    print(chain.invoke({"q": QUESTION}))
