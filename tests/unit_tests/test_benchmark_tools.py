"""The measurement tools in benchmarks/ still find every rain_guard name they import.

They run only by hand, so a module that moves would break them silently; this reads their
imports (without running them, which would load a model) and resolves each name.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

TOOLS = sorted((Path(__file__).parents[2] / "benchmarks").glob("*.py"))


def rain_guard_imports(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` of every ``from rain_guard... import name`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rain_guard")
            for alias in node.names]  # fmt: skip


def test_there_are_tools_to_check():
    assert {p.name for p in TOOLS} >= {"call_table.py", "draft_scores.py"}


@pytest.mark.parametrize("tool", TOOLS, ids=lambda p: p.name)
def test_every_imported_name_exists(tool):
    names = rain_guard_imports(tool)
    assert names
    for module, name in names:
        found = hasattr(importlib.import_module(module), name)
        found = found or importlib.util.find_spec(f"{module}.{name}") is not None  # a submodule
        assert found, f"{module}.{name}"
