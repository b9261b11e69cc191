"""rain_guard: RAIN (Rewindable Auto-regressive INference) for LangChain and LangGraph.

A frozen LLM answers by tree search over short token sets, judges its own partial answers
with an evaluation prompt, rewinds away from bad branches and commits only what survived.

The names below are imported on first use (PEP 562), so ``import rain_guard`` and the
``rain-guard`` command start without LangChain, LangGraph, numpy or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rain_guard.errors import (
    BackendError,
    BenchReportError,
    BudgetError,
    ConfigError,
    CriterionError,
    ModelLoadError,
    ModelNotFoundError,
    PromptError,
    RainGuardError,
    ResumeError,
    UnsupportedError,
)

if TYPE_CHECKING:
    from rain_guard.backends.base import Backend, Candidate, ProposalRequest, WorkCounters
    from rain_guard.backends.fake import FakeBackend
    from rain_guard.backends.loading import load_backend
    from rain_guard.chat_model import ChatRAIN
    from rain_guard.judging.criteria import BUILTIN_CRITERIA, Criterion, get_criterion
    from rain_guard.judging.evaluator import CombinedEvaluator, Evaluator, FunctionEvaluator
    from rain_guard.judging.self_eval import SelfEvaluator
    from rain_guard.judging.templates import criterion_from_template
    from rain_guard.search.config import SearchConfig
    from rain_guard.search.context import RainContext
    from rain_guard.search.embeddings import Embedder, HashEmbedder, MiniLMEmbedder
    from rain_guard.search.graph import build_rain_graph
    from rain_guard.search.resume import build_resumable_rain_graph
    from rain_guard.search.run import (
        GenerationResult,
        rain_generate,
        resume_rain,
        vanilla_generate,
    )
    from rain_guard.search.state import RainState
    from rain_guard.search.tree import SearchTree

_LAZY = {  # public name -> the module that defines it
    "Backend": "rain_guard.backends.base",
    "Candidate": "rain_guard.backends.base",
    "ProposalRequest": "rain_guard.backends.base",
    "WorkCounters": "rain_guard.backends.base",
    "FakeBackend": "rain_guard.backends.fake",
    "load_backend": "rain_guard.backends.loading",
    "ChatRAIN": "rain_guard.chat_model",
    "BUILTIN_CRITERIA": "rain_guard.judging.criteria",
    "Criterion": "rain_guard.judging.criteria",
    "get_criterion": "rain_guard.judging.criteria",
    "CombinedEvaluator": "rain_guard.judging.evaluator",
    "Evaluator": "rain_guard.judging.evaluator",
    "FunctionEvaluator": "rain_guard.judging.evaluator",
    "SelfEvaluator": "rain_guard.judging.self_eval",
    "criterion_from_template": "rain_guard.judging.templates",
    "SearchConfig": "rain_guard.search.config",
    "Embedder": "rain_guard.search.embeddings",
    "HashEmbedder": "rain_guard.search.embeddings",
    "MiniLMEmbedder": "rain_guard.search.embeddings",
    "RainContext": "rain_guard.search.context",
    "RainState": "rain_guard.search.state",
    "build_rain_graph": "rain_guard.search.graph",
    "build_resumable_rain_graph": "rain_guard.search.resume",
    "GenerationResult": "rain_guard.search.run",
    "rain_generate": "rain_guard.search.run",
    "resume_rain": "rain_guard.search.run",
    "vanilla_generate": "rain_guard.search.run",
    "SearchTree": "rain_guard.search.tree",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and keep the name here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rain_guard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "BUILTIN_CRITERIA",
    "Backend",
    "BackendError",
    "BenchReportError",
    "BudgetError",
    "Candidate",
    "ChatRAIN",
    "CombinedEvaluator",
    "ConfigError",
    "Criterion",
    "CriterionError",
    "Embedder",
    "Evaluator",
    "FakeBackend",
    "FunctionEvaluator",
    "GenerationResult",
    "HashEmbedder",
    "MiniLMEmbedder",
    "ModelLoadError",
    "ModelNotFoundError",
    "PromptError",
    "ProposalRequest",
    "RainContext",
    "RainGuardError",
    "RainState",
    "ResumeError",
    "SearchConfig",
    "SearchTree",
    "SelfEvaluator",
    "UnsupportedError",
    "WorkCounters",
    "build_rain_graph",
    "build_resumable_rain_graph",
    "criterion_from_template",
    "get_criterion",
    "load_backend",
    "rain_generate",
    "resume_rain",
    "vanilla_generate",
]
