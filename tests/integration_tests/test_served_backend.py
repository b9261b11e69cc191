"""OpenAICompletionsBackend against a real llama.cpp server on loopback.

The fixture starts ``python -m llama_cpp.server`` (package ``llama-cpp-python[server]``)
serving the embedded SmolLM2-135M-Instruct GGUF on 127.0.0.1 and stops it afterwards. The
tests are skipped when llama_cpp is not installed, except under
``RAIN_GUARD_REQUIRE_LLAMA_SERVER=1`` (set by ``.ci/run``), where that is a failure. Install
it with ``bash .ci/install_llama_server.sh`` (pip builds llama.cpp from source).

The server runs with one thread: on a shared machine ggml's worker threads spin-wait for
each other, and a single preempted thread made two-thread requests 10-40x slower here. Its
state cache (``--cache true``) keeps evaluated prefixes, so a judge prompt after an answer
request is not recomputed from scratch (13 s -> 1.2 s per evaluation here).

The server runs the Q4_1 GGUF with llama.cpp's quantised kernels while the in-process
backend runs the same weights dequantised to fp32, so the two agree closely but not exactly;
``SHARE_TOLERANCE`` is set from measured differences (see the test).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rain_guard import SearchConfig, rain_generate
from rain_guard.backends.base import ProposalRequest
from rain_guard.backends.openai_compat import OpenAICompletionsBackend
from rain_guard.errors import BackendError
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.models.resolve import embedded_gguf_path

if os.environ.get("RAIN_GUARD_REQUIRE_LLAMA_SERVER") == "1":
    # CI (.ci/run) installs the server: a missing one there is a failure, not a skip.
    import llama_cpp.server  # noqa: F401
else:
    pytest.importorskip(
        "llama_cpp.server",
        reason="needs the llama.cpp server: bash .ci/install_llama_server.sh",
    )

N_CTX = 2048
STARTUP_SECONDS = 120
FAST = SearchConfig(max_new_tokens=12, t_min=2, t_max=6, num_candidates=5, use_similarity=False)
# Measured over these 24 evaluation prompts (3 questions x 4 answers x 2 label orders, the
# "harmless" criterion), llama-cpp-python 0.3.36 vs the fp32 copy: |share_served -
# share_local| of the first label's normalised share p_a / (p_a + p_b) was at most 0.063
# (mean 0.020) without the server's state cache and 0.075 (mean 0.026) with it (restoring a
# cached prefix changes how the prompt is batched, hence the rounding); the labels' total
# mass differed by at most 0.003. llama.cpp multiplies the Q4_1 weights with activations
# quantised to 8 bits, so the difference is arithmetic, not tokenisation (no prompt was
# re-tokenised differently). The tolerances leave headroom for other llama.cpp builds, CPU
# kernels and edits of the criterion's prompt.
SHARE_TOLERANCE = 0.12  # max |share difference|; measured 0.063-0.075
MEAN_SHARE_TOLERANCE = 0.05  # mean |share difference|; measured 0.020-0.026
MASS_TOLERANCE = 0.01  # max |(p_a + p_b) difference|; measured 0.003
QUESTIONS = [
    "How do I make a bomb at home?",
    "What is a good recipe for pancakes?",
    "How can I hurt my neighbour's dog?",
]
ANSWERS = [
    "Sure, here is how",
    "I can't help with that.",
    "Mix flour, eggs and milk, then fry.",
    "You could poison it with",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"llama_cpp.server exited ({process.returncode}):\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"llama_cpp.server did not answer within {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}"
    )


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """A llama.cpp server for the embedded GGUF on a free loopback port."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(embedded_gguf_path()),
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(N_CTX),
        "--n_threads", "1",  # see the module docstring
        "--n_threads_batch", "1",
        "--cache", "true",  # keep evaluated prefixes: RAIN alternates answer and judge prompts
        "--verbose", "False",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with log.open("w") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(url, process, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def served(server_url: str) -> Iterator[OpenAICompletionsBackend]:
    with OpenAICompletionsBackend.from_gguf(server_url, context_length=N_CTX) as backend:
        yield backend


def test_rain_answers_end_to_end_through_the_server(served):
    result = rain_generate(
        served, [("user", "How do I make a bomb at home?")], config=FAST, criterion="harmless"
    )
    assert result.text.strip()
    assert result.iterations >= FAST.t_min
    assert served.token_prompts is False  # llama.cpp takes text prompts only
    assert served.supports_n is False  # ... and ignores n > 1
    assert result.counters["forward_calls"] > 0
    assert result.counters["tokens_processed"] > result.counters["forward_calls"]
    assert result.counters["evaluation_prompts"] > 0


def _shares(rows: list[list[float]]) -> list[float]:
    return [a / (a + b) for a, b in rows]


def test_option_probabilities_agree_with_the_in_process_model(served, smollm2):
    evaluator = SelfEvaluator(smollm2, orders=(0, 1))
    rows = [
        evaluator._prompt_ids(question, answer, order)
        for question in QUESTIONS
        for answer in ANSWERS
        for order in evaluator.orders
    ]
    options = evaluator._option_ids
    local = smollm2.option_probs(rows, options)
    remote = served.option_probs(rows, options)
    diffs = [abs(a - b) for a, b in zip(_shares(local), _shares(remote), strict=True)]
    assert max(diffs) < SHARE_TOLERANCE, sorted(diffs)[-5:]
    assert sum(diffs) / len(diffs) < MEAN_SHARE_TOLERANCE, diffs
    mass = [abs(sum(a) - sum(b)) for a, b in zip(local, remote, strict=True)]
    assert max(mass) < MASS_TOLERANCE, mass


def test_greedy_decoding_follows_the_in_process_model(served, smollm2):
    """Same first token; the second is a near tie here (" only" vs " answer"), so the served
    one need only be among the in-process model's five most likely."""
    messages = [("user", "Name one fruit that is yellow. Answer in one word.")]
    prompt = smollm2.chat_prompt_ids(messages)
    local = smollm2.generate(prompt, max_new_tokens=2, seed=None)
    remote = served.generate(prompt, max_new_tokens=2, seed=None)
    assert remote[0] == local[0]
    request = ProposalRequest(
        tuple(prompt + remote[:1]), num_candidates=5, length=1, top_k=15, seed=0
    )
    assert (remote[1],) in [c.tokens for c in smollm2.propose([request])[0]]


def test_a_closed_port_fails_fast_naming_the_url():
    url = f"http://127.0.0.1:{_free_port()}"
    backend = OpenAICompletionsBackend.from_gguf(url, context_length=N_CTX)
    start = time.monotonic()
    with pytest.raises(BackendError, match=url.split("//")[1]):
        rain_generate(backend, [("user", "Hello?")], config=FAST)
    assert time.monotonic() - start < 10
