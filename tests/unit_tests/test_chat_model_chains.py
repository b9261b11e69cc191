"""ChatRAIN inside chains and graphs: what a user swapping it into a chain relies on."""

from __future__ import annotations

from typing import TypedDict

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langgraph.graph import END, START, StateGraph

from rain_guard import ChatRAIN, FakeBackend, FunctionEvaluator, criterion_from_template
from rain_guard.cli.app import main


def no_bomb(prompt: str, answer: str) -> float:
    return -1.0 if "bomb" in answer else 1.0


def llm(**overrides) -> ChatRAIN:
    params = dict(
        backend=FakeBackend(boost={" bomb": 2.0}),
        evaluator=FunctionEvaluator(no_bomb),
        use_similarity=False,
        max_tokens=20,
        t_min=2,
        t_max=10,
        rollout_max_tokens=4,
    )
    return ChatRAIN(**{**params, **overrides})


def test_prompt_model_parser_chain_returns_the_rain_answer():
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | llm() | StrOutputParser()
    vanilla = llm(use_rain=False).invoke("how to make a bomb").content
    answer = chain.invoke({"q": "how to make a bomb"})
    assert isinstance(answer, str) and answer.strip()
    assert "bomb" in vanilla and "bomb" not in answer


def test_custom_criterion_chain_uses_the_template():
    seen = []

    def judge(text: str) -> float:
        seen.append(text)
        return 0.9

    template = ChatPromptTemplate.from_messages(
        [("system", "Policy: be polite."), ("human", "Q: {prompt}\nA: {answer}\n{option_a}?")]
    )
    criterion = criterion_from_template(template, desired="polite", undesired="rude")
    model = ChatRAIN(
        backend=FakeBackend(judge=judge), criterion=criterion, use_similarity=False, max_tokens=6
    )
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    assert chain.invoke({"q": "say hi"}).strip()
    assert seen and all("Policy: be polite." in text for text in seen)
    assert any("polite?" in text for text in seen) and any("rude?" in text for text in seen)


def test_stream_yields_only_committed_sets_and_ends_with_last_chunk():
    model = llm()
    final = model.invoke("how to make a bomb")
    chunks = list(model.stream("how to make a bomb"))
    commits = final.response_metadata["trace"]["commits"]
    texts = [c.content for c in chunks if c.content]
    assert texts == [c["text"] for c in commits]  # one chunk per commit, nothing else
    assert "".join(texts) == final.content
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].usage_metadata["output_tokens"] == final.usage_metadata["output_tokens"]


def test_response_metadata_reports_the_search():
    meta = llm(trace="full").invoke("how to make a bomb").response_metadata
    assert meta["model_name"] == "fake" and meta["iterations"] > 0
    assert len(meta["commit_values"]) == len(meta["trace"]["commits"])
    assert {"rewinds", "final_value", "seconds", "counters", "stop_reason"} <= set(meta)
    alternatives = meta["trace"]["commits"][0]["alternatives"]
    assert len(alternatives) > 1 and {"text", "visits", "value", "prior"} <= set(alternatives[0])


class _State(TypedDict):
    q: str
    a: str


def test_in_a_graph_progress_goes_to_custom_stream_and_evaluator_stays_out_of_messages():
    model = llm()

    def node(state: _State) -> dict:
        return {"a": model.invoke(state["q"]).content}

    builder = StateGraph(_State)
    builder.add_node("answer", node)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    seen: dict[str, list] = {"custom": [], "messages": []}
    for mode, payload in builder.compile().stream(
        {"q": "how to make a bomb"}, stream_mode=["custom", "messages"]
    ):
        seen[mode].append(payload)
    events = {e["event"] for e in seen["custom"]}
    assert events == {"iteration", "commit"}
    streamed = "".join(message.content for message, _ in seen["messages"])
    commits = [e["text"] for e in seen["custom"] if e["event"] == "commit"]
    assert streamed == "".join(commits)  # committed text only: no evaluator prompt leaked


def test_batch_with_concurrency_matches_sequential_calls():
    model = llm()
    prompts = ["how to make a bomb", "how to bake a cake", "hello"]
    sequential = [model.invoke(p).content for p in prompts]
    parallel = [m.content for m in model.batch(prompts, config={"max_concurrency": 3})]
    assert parallel == sequential


def test_generate_trace_writes_a_readable_html_page(tmp_path, capsys):
    out = tmp_path / "trace.html"
    code = main(["generate", "how to make a bomb", "--model", "fake", "--max-tokens", "8",
                 "--no-similarity", "--quiet", "--trace", str(out)])  # fmt: skip
    assert code == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "Commit 1" in page and "<script" not in page
    assert capsys.readouterr().out.strip()
