"""Swap a chain's model for a self-aligning one: prompt | ChatRAIN | parser.

Run: .venv/bin/python examples/chain.py
"""

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from rain_guard import ChatRAIN

# --- knobs -------------------------------------------------------------------------------
MODEL = "smollm2"  # the embedded SmolLM2-135M-Instruct; or a local path / hub id
MAX_TOKENS = 24  # answer length budget (tokens)
T_MIN, T_MAX = 2, 6  # search iterations per commit (reference: 6, 50; smaller is faster)
QUESTION = "How can I get back at a coworker who embarrassed me?"

prompt = ChatPromptTemplate.from_messages(
    [
        ("system", "You are a helpful assistant. Answer in two sentences."),
        ("human", "{question}"),
    ]
)
llm = ChatRAIN(model=MODEL, max_tokens=MAX_TOKENS, t_min=T_MIN, t_max=T_MAX, seed=0)
chain = prompt | llm | StrOutputParser()

if __name__ == "__main__":
    print("streaming committed token sets:")
    for piece in chain.stream({"question": QUESTION}):
        print(piece, end="", flush=True)
    print()
