"""The examples run as a user would run them (embedded model), as smoke tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
INTERNAL_MARKERS = ("[result of tool", "[called tools", "<|im_start|>", "<|im_end|>")


def run_example(script: str) -> subprocess.CompletedProcess:
    """Run a script from examples/ against this checkout's rain_guard (not an installed one)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.parametrize("script", ["chain.py", "custom_criterion.py"])
def test_example_runs_and_prints_an_answer(script):
    assert run_example(script).stdout.strip()


def test_guard_agent_answers_hold_no_internal_text():
    """Each final answer (from "A: " to the guard's note or the next question) is clean."""
    stdout = run_example("guard_agent.py").stdout
    answers = [
        block.split("A: ", 1)[1].split("\n   (guard:")[0] for block in stdout.split("Q: ")[1:]
    ]
    assert len(answers) == 2
    for answer in answers:
        assert answer.strip()
        assert not [marker for marker in INTERNAL_MARKERS if marker in answer], answer
