"""rain_guard: RAIN (Rewindable Auto-regressive INference) for LangChain and LangGraph.

A frozen LLM answers by tree search over short token sets, judges its own partial answers
with an evaluation prompt, rewinds away from bad branches and commits only what survived.
"""

from rain_guard.backends.base import Backend, Candidate, ProposalRequest, WorkCounters
from rain_guard.backends.fake import FakeBackend
from rain_guard.backends.loading import load_backend
from rain_guard.chat_model import ChatRAIN
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
from rain_guard.judging.criteria import BUILTIN_CRITERIA, Criterion, get_criterion
from rain_guard.judging.evaluators import (
    CombinedEvaluator,
    Evaluator,
    FunctionEvaluator,
    SelfEvaluator,
)
from rain_guard.judging.templates import criterion_from_template
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import Embedder, HashEmbedder, MiniLMEmbedder
from rain_guard.search.graph import (
    RainContext,
    RainState,
    build_rain_graph,
    build_resumable_rain_graph,
)
from rain_guard.search.run import GenerationResult, rain_generate, resume_rain, vanilla_generate
from rain_guard.search.tree import SearchTree

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
