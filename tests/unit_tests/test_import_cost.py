"""Importing rain_guard, the served engine or the command's help loads no model library.

A served engine runs the model elsewhere, so its client must not need torch; ``import
rain_guard`` and ``rain-guard --help`` should start at once. Each case runs in a fresh
interpreter (this test process has torch loaded already).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "langgraph", "langchain_core", "numpy")


def loaded_after(code: str) -> set[str]:
    """The HEAVY modules loaded after running ``code`` in a fresh interpreter."""
    report = f"\nimport sys\nprint('LOADED', *[m for m in {HEAVY!r} if m in sys.modules])"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code + report],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1].split()
    assert last[0] == "LOADED"
    return set(last[1:])


def test_the_served_engine_imports_without_torch():
    loaded = loaded_after("import rain_guard.backends.openai_compat")
    assert not loaded & {"torch", "transformers"}, loaded


def test_import_rain_guard_loads_no_heavy_library():
    assert loaded_after("import rain_guard") == set()


def test_the_command_help_loads_no_heavy_library():
    code = (
        "from rain_guard.cli.app import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    0"
    )
    assert loaded_after(code) == set()


def test_every_public_name_resolves_to_its_module_s_object():
    import rain_guard
    from rain_guard.chat_model import ChatRAIN
    from rain_guard.search.run import rain_generate

    assert all(getattr(rain_guard, name) is not None for name in rain_guard.__all__)
    assert rain_guard.ChatRAIN is ChatRAIN and rain_guard.rain_generate is rain_generate
    assert set(rain_guard.__all__) <= set(dir(rain_guard))
    with pytest.raises(AttributeError, match="no_such_name"):
        rain_guard.no_such_name  # noqa: B018
