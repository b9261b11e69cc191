"""RainContext: what a search run needs besides its state (settings and model handles).

LangGraph passes it to every node as ``runtime.context``; it is never checkpointed, so live
objects (the backend with its KV caches, the evaluator, the sentence encoder) belong here and
not in ``RainState``. Its other fields are JSON-able, so a client that can only send JSON
(LangGraph Studio, the ``langgraph dev`` server) can name the model, criterion and settings
and let ``load_handles`` build the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import PlainValidator
from pydantic.json_schema import SkipJsonSchema

from rain_guard.backends.base import Backend
from rain_guard.backends.loading import load_backend
from rain_guard.errors import ConfigError
from rain_guard.judging.evaluator import Evaluator
from rain_guard.judging.resolve import criterion_evaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import Embedder


def _as_is(value: Any) -> Any:
    return value


RunHandle = (PlainValidator(_as_is), SkipJsonSchema())
"""Marks a context field that holds a live object: kept as given, left out of the JSON schema
(LangGraph Studio builds its context form from that schema)."""


@dataclass
class RainContext:
    """Run-scoped settings and handles (never checkpointed).

    Everything but the handles is JSON-able, so LangGraph Studio (``langgraph dev``) can send
    a context such as ``{"model": "smollm2", "criterion": "harmless", "config": {"t_max":
    8}}``; the handles it cannot send are built from those fields by ``load_handles``, which
    the prompt-input graph (``build_rain_graph(from_prompt=True)``) calls before searching.

    Attributes:
        backend: The generating model; None: loaded from ``model`` by ``load_handles``.
        evaluator: Scores partial answers; None: the judge ``criterion`` names for
            ``backend`` (``judging.resolve``), built by ``load_handles``.
        config: Search settings (a dict of ``SearchConfig`` fields is converted).
        embedder: Sentence encoder for the similarity update; None switches it off.
        stop: Stop strings; generation ends after the commit that contains one.
        stop_after_commit: End the run right after one commit (used by the resumable graph,
            which checkpoints between commits); the state is then ready for the next one.
        model: What ``load_handles`` loads when ``backend`` is None: "smollm2" (embedded
            default), "fake", a local folder or .gguf file, or a hub id.
        criterion: What the built evaluator checks when ``evaluator`` is None: a built-in
            name ("harmless", "helpful", "truthful"), "harm_classifier", or a template with
            ``{prompt}`` and ``{answer}``; None: the model's default judge
            (``judging.resolve``).

    Raises:
        ConfigError: ``config`` is neither a SearchConfig nor a dict of valid settings, or
            ``stop`` holds something other than strings.
    """

    backend: Annotated[Backend | None, *RunHandle] = None
    evaluator: Annotated[Evaluator | None, *RunHandle] = None
    config: SearchConfig = field(default_factory=SearchConfig)
    embedder: Annotated[Embedder | None, *RunHandle] = None
    stop: tuple[str, ...] = ()
    stop_after_commit: bool = False
    model: str = "smollm2"
    criterion: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.config, dict):
            self.config = SearchConfig(**self.config)
        if not isinstance(self.config, SearchConfig):
            raise ConfigError(
                f"config must be a SearchConfig or a dict of its settings, got "
                f"{type(self.config).__name__}"
            )
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        if not all(isinstance(s, str) for s in stop):
            raise ConfigError(f"stop strings must be str, got {stop!r:.80}")
        self.stop = stop

    def load_handles(self) -> RainContext:
        """Fill in a missing backend (from ``model``) and evaluator (from ``criterion``).

        Weights load once per process and model (``load_backend``). Returns self.

        Raises:
            ModelNotFoundError, ModelLoadError: ``model`` cannot be found or loaded.
            CriterionError: ``criterion`` is not a built-in name or a valid template.
        """
        if self.backend is None:
            self.backend = load_backend(self.model)
        if self.evaluator is None:
            self.evaluator = criterion_evaluator(self.backend, self.criterion)
        return self
