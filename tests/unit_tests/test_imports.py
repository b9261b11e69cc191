"""The public API: every name users import keeps working (as LangChain partner packages pin it).

``EXPECTED`` is the public API; a name may be added, never dropped. Old module paths keep
importing the names they had before the package layout by concept.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import rain_guard

EXPECTED = [
    "BUILTIN_CRITERIA", "Backend", "BackendError", "BenchReportError", "BudgetError",
    "Candidate", "ChatRAIN", "CombinedEvaluator", "ConfigError", "Criterion", "CriterionError",
    "Embedder", "Evaluator", "FakeBackend", "FunctionEvaluator", "GenerationResult",
    "HashEmbedder", "MiniLMEmbedder", "ModelLoadError", "ModelNotFoundError", "PromptError",
    "ProposalRequest", "RainContext", "RainGuardError", "RainState", "ResumeError",
    "SearchConfig", "SearchTree", "SelfEvaluator", "UnsupportedError", "WorkCounters",
    "build_rain_graph", "build_resumable_rain_graph", "criterion_from_template",
    "get_criterion", "load_backend", "rain_generate", "resume_rain", "vanilla_generate",
]  # fmt: skip

OLD_PATHS = {
    "rain_guard.guard": ["RainGuardNode", "guard_condition"],
    "rain_guard.middleware": ["RainGuardMiddleware"],
    "rain_guard.chat_model": ["ChatRAIN"],
    "rain_guard.graph": ["build_rain_graph", "build_resumable_rain_graph", "RainContext",
                         "RainState", "draw_seed", "recursion_limit"],
    "rain_guard.generation": ["rain_generate", "vanilla_generate", "resume_rain",
                              "GenerationResult", "prepare_prompt", "make_context"],
}  # fmt: skip


def test_all_keeps_every_public_name():
    assert set(EXPECTED) <= set(rain_guard.__all__)
    assert sorted(rain_guard.__all__) == sorted(set(rain_guard.__all__))


@pytest.mark.parametrize("name", EXPECTED)
def test_every_public_name_imports(name):
    assert getattr(rain_guard, name) is not None


@pytest.mark.parametrize(("module", "names"), list(OLD_PATHS.items()))
def test_old_import_paths_keep_working(module, names):
    if module == "rain_guard.middleware":
        pytest.importorskip("langchain.agents")
    loaded = importlib.import_module(module)
    for name in names:
        assert getattr(loaded, name) is not None, f"{module}.{name}"


def test_the_tree_shows_the_method():
    """At most ~12 modules flat in rain_guard/, none over 600 lines (one idea per file)."""
    root = Path(rain_guard.__file__).parent
    assert len(list(root.glob("*.py"))) <= 12
    long = {str(p.relative_to(root)): n for p in root.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}  # fmt: skip
    assert long == {}
