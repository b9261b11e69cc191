"""`langgraph dev` (LangGraph Studio's server) loads graphs/ and runs the guarded agent.

Starts the in-memory dev server on loopback from langgraph.json, checks both registered
graphs are served, and runs one thread through the guarded agent (a calculator question, so
the tool path, the model and the guard all run).
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


def test_dev_server_serves_both_graphs(server):
    assistants = _call(f"{server}/assistants/search", {"limit": 10})
    assert {"rain_search", "guarded_agent"} <= {a["graph_id"] for a in assistants}


def test_one_thread_runs_through_the_guarded_agent(server):
    thread = _call(f"{server}/threads", {})
    run_input = {"messages": [{"role": "user", "content": "What is 12 * 7 + 3?"}]}
    final = _call(
        f"{server}/threads/{thread['thread_id']}/runs/wait",
        {"assistant_id": "guarded_agent", "input": run_input},
        timeout=600,
    )
    kinds = [m["type"] for m in final["messages"]]
    assert kinds[:3] == ["human", "ai", "tool"]
    assert final["messages"][2]["content"] == "87"
    assert kinds[-1] == "ai" and final["messages"][-1]["content"].strip()
