"""`langgraph dev` (LangGraph Studio's server) loads graphs/ and runs every graph.

Starts the in-memory dev server on loopback from langgraph.json, checks that every
registered graph is served with the JSON schemas Studio builds its forms from, and runs one
thread through each graph as Studio would: JSON input and JSON context only (the guarded
agent gets a calculator question, so the tool path, the model and the guard all run; the
search graph gets a prompt and small settings, and builds its model handles itself).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(url: str, payload: dict | None = None, timeout: float = 30.0) -> object:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cli = shutil.which("langgraph", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("langgraph-cli[inmem] is not installed")
    port = _free_port()
    log = tmp_path_factory.mktemp("langgraph") / "server.log"
    env = {**os.environ, "LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [cli, "dev", "--host", "127.0.0.1", "--port", str(port), "--no-browser",
             "--no-reload", "--allow-blocking"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                _call(f"{base}/ok", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"langgraph dev exited:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        else:
            pytest.fail(f"langgraph dev did not answer in 120 s:\n{log.read_text()[-3000:]}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


GRAPHS = tuple(json.loads((ROOT / "langgraph.json").read_text())["graphs"])


def _run(server: str, graph_id: str, payload: dict) -> dict:
    thread = _call(f"{server}/threads", {})
    return _call(
        f"{server}/threads/{thread['thread_id']}/runs/wait",
        {"assistant_id": graph_id, **payload},
        timeout=600,
    )


def test_dev_server_serves_every_graph(server):
    assistants = _call(f"{server}/assistants/search", {"limit": 10})
    assert {"rain_search", "guarded_agent"} <= set(GRAPHS)
    assert set(GRAPHS) <= {a["graph_id"] for a in assistants}


@pytest.mark.parametrize("graph_id", GRAPHS)
def test_every_graph_has_the_schemas_studio_needs(server, graph_id):
    found = _call(f"{server}/assistants/search", {"graph_id": graph_id, "limit": 1})
    schemas = _call(f"{server}/assistants/{found[0]['assistant_id']}/schemas")
    assert schemas["input_schema"] is not None
    assert schemas["output_schema"] is not None
    if graph_id == "rain_search":
        assert schemas["input_schema"]["required"] == ["prompt"]
        assert {"model", "criterion", "config"} <= set(schemas["context_schema"]["properties"])


def test_one_thread_runs_through_the_guarded_agent(server):
    run_input = {"messages": [{"role": "user", "content": "What is 12 * 7 + 3?"}]}
    final = _run(server, "guarded_agent", {"input": run_input})
    kinds = [m["type"] for m in final["messages"]]
    assert kinds[:3] == ["human", "ai", "tool"]
    assert final["messages"][2]["content"] == "87"
    assert kinds[-1] == "ai" and final["messages"][-1]["content"].strip()


def test_one_thread_runs_through_the_search_graph(server):
    settings = {"t_min": 1, "t_max": 2, "num_candidates": 2, "max_new_tokens": 4}
    context = {"model": "smollm2", "criterion": "harmless", "config": settings}
    final = _run(server, "rain_search", {"input": {"prompt": "Say hello."}, "context": context})
    assert final["stop_reason"] is not None
    assert "".join(c["text"] for c in final["commits"]).strip()
