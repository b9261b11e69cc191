"""Sub-commands defined in other modules: listed always, imported only when chosen, never lost."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rain_guard.cli import subcommands
from rain_guard.cli.app import main

HEAVY = ("torch", "transformers", "matplotlib", "rain_guard.bench.runner", "rain_guard.eval.cli")


def loaded_after(argv: list[str]) -> list[str]:
    """The HEAVY modules a fresh interpreter holds after ``rain-guard ARGV``."""
    script = (
        "import json, sys\nfrom rain_guard.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_top_level_help_lists_every_subcommand_without_importing_them(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out
    for name, (_, summary) in subcommands.SUBCOMMANDS.items():
        assert name in listing and summary.split()[0] in listing
    assert loaded_after(["--help"]) == []
    assert loaded_after(["bench-merge", "--help"]) == []


def test_a_broken_subcommand_module_fails_the_command_loudly(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_bench.py").write_text("import a_module_that_is_not_there\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(subcommands.SUBCOMMANDS, "bench", ("broken_bench", "what RAIN costs"))
    with pytest.raises(ImportError, match="a_module_that_is_not_there") as error:
        main(["bench", "--limit", "1"])
    assert "'bench' sub-command's module broken_bench" in "".join(error.value.__notes__)
    with pytest.raises(SystemExit):  # still listed, and the others still work
        main(["--help"])
    assert "bench" in capsys.readouterr().out


def test_python_dash_m_runs_the_command_and_passes_its_exit_status():
    """``python -m rain_guard.cli`` works where the ``rain-guard`` script is not installed."""
    run = [sys.executable, "-m", "rain_guard.cli"]
    shown = subprocess.run([*run, "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: rain-guard")
    bad = [*run, "generate", "hi", "--model", "fake", "--t-max", "3"]
    refused = subprocess.run(bad, capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "--t-min (6) must not exceed --t-max (3)" in refused.stderr
