"""No import circles among the command, bench and evaluation modules.

A circle makes the import order decide what works (a name is missing while its module is half
imported), so each module should import only what was written before it. Every import
counts, also one inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rain_guard

ROOT = Path(rain_guard.__file__).parent
CHECKED = ("rain_guard.bench", "rain_guard.cli", "rain_guard.decoding", "rain_guard.eval")


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of rain_guard (packages by __init__)."""
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The rain_guard modules ``path`` imports (``from package import module`` included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rain_guard"):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in known else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rain_guard")}
    return found & set(known)


def circle_through(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A path of imports from ``start`` back to it, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        module, path = stack.pop()
        for nxt in graph[module]:
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_the_checker_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circle_through("a", graph) == ["a", "b", "c", "a"]
    assert circle_through("d", graph) is None


@pytest.mark.parametrize("package", CHECKED)
def test_no_import_circle(package):
    known = module_files()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    mine = [m for m in known if m == package or m.startswith(package + ".")]
    circles = [c for m in mine if (c := circle_through(m, graph))]
    assert not circles, " -> ".join(circles[0])
