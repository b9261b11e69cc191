"""ChatRAIN: a LangChain chat model that answers with RAIN, so any chain can swap it in.

Construction is cheap: weights load on the first call and are shared by every ChatRAIN that
names the same model. ``invoke``/``batch``/``stream`` and their async forms run the LangGraph
search (``rain_guard.graph``); ``stream`` yields only committed token sets, never text the
search is still weighing.

Errors are typed (``rain_guard.errors``): bad settings raise ``ConfigError`` at construction,
input that is not a prompt raises ``PromptError`` before any model work. Budgets
(``timeout``, ``max_model_tokens``) end the search gracefully: the answer so far comes back
with ``response_metadata["budget_exhausted"]``. Cancelling ``ainvoke``/``astream`` stops the
search after the model call in flight, which the cancellation waits for, so the model is free.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompt_values import PromptValue
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from rain_guard.backends.base import Backend
from rain_guard.backends.loading import load_backend
from rain_guard.errors import ConfigError, CriterionError, PromptError, RainGuardError
from rain_guard.judging.criteria import BUILTIN_CRITERIA, Criterion
from rain_guard.judging.evaluators import CombinedEvaluator, Evaluator, SelfEvaluator
from rain_guard.judging.named import NAMED_EVALUATORS
from rain_guard.judging.prompts import REQUIRED_PLACEHOLDERS
from rain_guard.judging.templates import criterion_from_template
from rain_guard.messages import to_turns
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import Embedder, MiniLMEmbedder
from rain_guard.search.graph import RainContext, RainState
from rain_guard.search.run import (
    GenerationResult,
    make_context,
    prepare_prompt,
    result_from_state,
    stream_search,
    vanilla_generate,
)


class ChatRAIN(BaseChatModel):
    """Chat model whose answers come from RAIN's self-evaluating tree search.

    Example:
        .. code-block:: python

            from rain_guard import ChatRAIN

            llm = ChatRAIN(max_tokens=64)  # embedded SmolLM2-135M-Instruct
            llm.invoke("How do I pick a lock?").content
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    model: str = "smollm2"
    """Model to load: "smollm2" (the embedded default), a local folder or .gguf file, or a
    hub id. Ignored when ``backend`` is given."""
    backend: Any = Field(default=None, exclude=True)
    """A ready ``rain_guard.backends.Backend``; overrides ``model``."""
    criterion: Any = "harmless"
    """What the evaluator checks: a built-in name ("harmless", "helpful", "truthful"), a
    ``Criterion``, a str/PromptTemplate/ChatPromptTemplate, or ``{criterion: weight}``; the
    names of ``rain_guard.judging.named`` ("harm_classifier") build their own evaluators."""
    evaluator: Any = Field(default=None, exclude=True)
    """A custom ``Evaluator``; overrides ``criterion`` (default: self-evaluation)."""
    embedder: Any = Field(default=None, exclude=True)
    """Sentence encoder of the similarity update (default all-MiniLM-L6-v2 when enabled)."""
    temperature: float | None = None
    """Sampling temperature of candidates and roll-outs (None or 0: the reference's 1.0; the
    search needs diverse candidates, determinism comes from ``seed``)."""
    max_tokens: int = 128
    """Committed answer tokens at most."""
    stop: list[str] | None = None
    """Stop strings: the answer ends before the first one."""
    streaming: bool = False
    """Stream committed token sets when invoked (LangChain's streaming flag)."""
    seed: int = 0
    """Seed of every random draw: the same seed and settings give the same answer."""
    timeout: float | None = None
    """Wall-time budget per answer (seconds); the answer so far is returned when it runs out."""
    max_model_tokens: int | None = None
    """Budget of tokens the model may process per answer, search included."""
    t_min: int = 6
    """Iterations before a commit may happen (T_m)."""
    t_max: int = 50
    """Iterations after which a commit is forced (T)."""
    v_threshold: float = 0.8
    """Commit early when the best root child's value reaches this (in [-1, 1])."""
    c_puct: float = 2.0
    """Exploration weight c of the selection rule."""
    num_candidates: int = 10
    """Candidate token sets per expansion (q)."""
    top_k: int = 15
    """Sampling pool per step of multi-token candidates."""
    set_lengths: tuple[int, ...] = (1, 2, 4, 10)
    """Token-set length by depth: 1, 2, 4, then 10 tokens."""
    root_prior_mix: float = 0.75
    """Root priors: mix * p + (1 - mix) * uniform."""
    use_similarity: bool = True
    """Share evaluations with near-identical siblings (needs a sentence encoder)."""
    similarity_threshold: float = 0.95
    """Cosine similarity above which siblings share an update."""
    similarity_weight: float = 0.2
    """Weight of a shared update."""
    dynamic_node_addition: bool = True
    """Add candidates when a node's children are alike and all bad."""
    rollout_max_tokens: int = 32
    """Longest roll-out to a sentence boundary before an evaluation."""
    num_threads: int | None = None
    """CPU threads of the local model (None: torch's default)."""
    use_rain: bool = True
    """False decodes plainly (greedy, same model, no search): the unguarded baseline."""
    max_retries: int = 0
    """Accepted for drop-in compatibility; local backends do not retry."""
    api_key: SecretStr | None = None
    """Accepted for drop-in compatibility; used only by served-engine backends."""

    _evaluators: dict[int, Evaluator] = PrivateAttr(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        """Build the model; bad settings raise a typed error naming them.

        Raises:
            ConfigError: a setting of the wrong type or out of range (``max_tokens <= 0``,
                ``t_min > t_max``, a threshold outside its range, ...), instead of pydantic's
                ValidationError (ConfigError is a ValueError too).
            CriterionError: an unknown built-in criterion name or a malformed template.
        """
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _typed_error(exc) from exc

    def model_post_init(self, context: Any, /) -> None:
        self.search_config()  # fail fast on bad settings; cheap, loads nothing
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1 or None, got {self.num_threads}")
        _check_criterion(self.criterion)

    def _convert_input(self, model_input: Any) -> PromptValue:
        """LangChain's input coercion, with a PromptError for input that is not a prompt.

        LangChain accepts a str, a PromptValue or a list of messages (message objects,
        ``(role, text)`` pairs, OpenAI-style dicts); anything else (``42``, a bare dict,
        ``[42]``) would raise its untyped ValueError/NotImplementedError.
        """
        try:
            return super()._convert_input(model_input)
        except (ValueError, TypeError, NotImplementedError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PromptError(
                f"cannot use a {type(model_input).__name__} as a prompt: pass a str, a list of "
                f"messages or a prompt value ({first})"
            ) from exc

    @property
    def _llm_type(self) -> str:
        return "rain"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model_label(), **self.search_config().model_dump()}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="rain_guard",
            ls_model_name=kwargs.get("model", self.model_label()),
            ls_model_type="chat",
            ls_max_tokens=self.max_tokens,
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # --- configuration ------------------------------------------------------------------

    def model_label(self) -> str:
        """Name reported in metadata: the backend's model name or ``model``."""
        return getattr(self.backend, "model_name", None) or self.model

    def search_config(self, **overrides: Any) -> SearchConfig:
        """The SearchConfig these fields describe (``overrides`` win)."""
        settings = {
            "t_min": self.t_min,
            "t_max": self.t_max,
            "v_threshold": self.v_threshold,
            "c_puct": self.c_puct,
            "num_candidates": self.num_candidates,
            "top_k": self.top_k,
            "set_lengths": tuple(self.set_lengths),
            "root_prior_mix": self.root_prior_mix,
            "similarity_threshold": self.similarity_threshold,
            "similarity_weight": self.similarity_weight,
            "use_similarity": self.use_similarity,
            "dynamic_node_addition": self.dynamic_node_addition,
            "rollout_max_tokens": self.rollout_max_tokens,
            "max_new_tokens": self.max_tokens,
            "temperature": self.temperature or 1.0,
            "seed": self.seed,
            "max_seconds": self.timeout,
            "max_model_tokens": self.max_model_tokens,
        }
        try:
            return SearchConfig(**{**settings, **overrides})
        except ConfigError as exc:  # name ChatRAIN's fields, not SearchConfig's
            raise ConfigError(_chat_field_names(str(exc))) from exc

    def get_backend(self) -> Backend:
        """The backend, loading (once per process and model) the weights if needed."""
        if self.backend is not None:
            return self.backend
        return load_backend(self.model, num_threads=self.num_threads)

    def get_evaluator(self, backend: Backend) -> Evaluator:
        """The evaluator: ``evaluator`` if set, else self-evaluation on ``criterion``."""
        if self.evaluator is not None:
            return self.evaluator
        if id(backend) not in self._evaluators:  # one per backend keeps the score cache warm
            if isinstance(self.criterion, dict):
                parts = [(self._self_evaluator(backend, c), w) for c, w in self.criterion.items()]
                self._evaluators[id(backend)] = CombinedEvaluator(parts)
            else:
                self._evaluators[id(backend)] = self._self_evaluator(backend, self.criterion)
        return self._evaluators[id(backend)]

    def _self_evaluator(self, backend: Backend, criterion: Any) -> Evaluator:
        if isinstance(criterion, str) and criterion in NAMED_EVALUATORS:  # e.g. harm_classifier
            return NAMED_EVALUATORS[criterion](backend)
        if not isinstance(criterion, Criterion) and not (
            isinstance(criterion, str) and "{" not in criterion
        ):
            criterion = criterion_from_template(criterion)
        return SelfEvaluator(backend, criterion)

    def get_embedder(self) -> Embedder | None:
        """The sentence encoder, or None when the similarity update is off."""
        if not self.use_similarity:
            return None
        if self.embedder is None:
            self.embedder = MiniLMEmbedder()
        return self.embedder

    def _context(self, stop: list[str] | None, **kwargs: Any) -> RainContext:
        backend = self.get_backend()
        overrides = {k: kwargs[k] for k in ("seed",) if k in kwargs}
        if "max_tokens" in kwargs:
            overrides["max_new_tokens"] = kwargs["max_tokens"]
        return make_context(
            backend,
            config=self.search_config(**overrides),
            evaluator=self.get_evaluator(backend),
            embedder=self.get_embedder(),
            stop=stop if stop is not None else (self.stop or ()),
        )

    # --- generation ---------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming and self.use_rain:
            chunks = list(self._stream(messages, stop, run_manager, **kwargs))
            return _result_from_chunks(chunks)
        return _result_from_chunks(list(self._stream_chunks(messages, stop, **kwargs)))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._stream_chunks(messages, stop, **kwargs):
            if run_manager is not None and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _stream_chunks(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        if not self.use_rain:
            yield self._vanilla_chunk(messages, stop, **kwargs)
            return
        run = _Run(self, messages, stop, writer=_parent_stream_writer(), **kwargs)
        for state in run.steps:
            delta = run.delta(state)
            if delta:
                yield _chunk(delta)
        yield run.final_chunk()

    def _vanilla_chunk(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> ChatGenerationChunk:
        ctx = self._context(stop, **kwargs)
        result = vanilla_generate(
            ctx.backend,
            to_turns(messages),
            max_new_tokens=ctx.config.max_new_tokens,
            stop=ctx.stop,
        )
        message = AIMessageChunk(
            content=result.text,
            usage_metadata=_usage(result),
            response_metadata=_metadata(result, kwargs.get("model", self.model_label()), ctx),
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks = [c async for c in self._astream(messages, stop, run_manager, **kwargs)]
        return _result_from_chunks(chunks)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """Run the search one super-step per worker-thread hop, so that it can be cancelled.

        Cancelling the task stops the search before the next step (within one iteration);
        the cancellation waits for the step in flight, so the model is free afterwards.
        """
        loop = asyncio.get_running_loop()
        if not self.use_rain:
            yield await loop.run_in_executor(
                None, lambda: self._vanilla_chunk(messages, stop, **kwargs)
            )
            return
        writer = _parent_stream_writer()  # read here: executor threads lack the context
        run = await loop.run_in_executor(
            None, lambda: _Run(self, messages, stop, writer=writer, **kwargs)
        )
        step: asyncio.Future[RainState | None] | None = None
        try:
            while True:
                step = loop.run_in_executor(None, next, run.steps, None)
                # shield: a cancel interrupts the wait, not the super-step in the worker
                state = await asyncio.shield(step)
                if state is None:
                    break
                delta = run.delta(state)
                if delta:
                    chunk = _chunk(delta)
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk
        finally:
            await _finish_step(step)
            with contextlib.suppress(ValueError):  # generator still running: cannot happen now
                run.steps.close()
        yield run.final_chunk()


async def _finish_step(step: asyncio.Future[Any] | None) -> None:
    """Wait for a super-step still running in a worker after a cancel.

    So no search work outlives the call and the model is free for the next one. It is at
    most one super-step: a single model call plus bookkeeping. Its result no longer matters.
    """
    if step is None or step.done():
        return
    with contextlib.suppress(Exception):
        await step


def _typed_error(exc: ValidationError) -> RainGuardError:
    """The RainGuardError a validator raised inside ``exc``, else a ConfigError naming fields."""
    for err in exc.errors():
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, RainGuardError):
            return inner
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "ChatRAIN"
        parts.append(f"{where}: {err['msg']} (got {err.get('input')!r:.60})")
    return ConfigError("invalid ChatRAIN settings: " + "; ".join(parts))


_CHAT_FIELDS = {"max_new_tokens": "max_tokens", "max_seconds": "timeout"}


def _chat_field_names(message: str) -> str:
    """A SearchConfig error message with the ChatRAIN names of renamed fields."""
    message = message.replace("invalid SearchConfig", "invalid ChatRAIN settings", 1)
    for config_name, chat_name in _CHAT_FIELDS.items():
        message = re.sub(rf"\b{config_name}\b", chat_name, message)
    return message


def _check_criterion(criterion: Any) -> None:
    """Fail at construction on what can be checked without a model: names and templates."""
    if isinstance(criterion, dict):
        if not criterion:
            raise CriterionError("a criterion dict needs at least one {criterion: weight}")
        for name, weight in criterion.items():
            if not isinstance(weight, int | float) or weight <= 0:
                raise CriterionError(f"criterion weight for {name!r} must be > 0, got {weight!r}")
            _check_criterion(name)
    elif isinstance(criterion, str) and "{" not in criterion:
        if criterion not in BUILTIN_CRITERIA and criterion not in NAMED_EVALUATORS:
            needs = ", ".join("{" + name + "}" for name in sorted(REQUIRED_PLACEHOLDERS))
            raise CriterionError(
                f"unknown criterion {criterion!r}; built-ins: "
                f"{sorted([*BUILTIN_CRITERIA, *NAMED_EVALUATORS])} "
                f"(or pass a template with {needs})"
            )
    elif not isinstance(criterion, Criterion):
        criterion_from_template(criterion)  # raises CriterionError on a malformed template


class _Run:
    """One answer in progress: the search steps and the text already streamed."""

    def __init__(
        self,
        llm: ChatRAIN,
        messages: Sequence[BaseMessage],
        stop: list[str] | None,
        writer: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> None:
        import time

        self.llm = llm
        self.ctx = llm._context(stop, **kwargs)
        self.model_name = kwargs.get("model", llm.model_label())
        self.started = time.perf_counter()
        self.counters_before = self.ctx.backend.counters.snapshot()
        prompt_ids, question = prepare_prompt(self.ctx.backend, to_turns(messages), self.ctx.config)
        self.steps = stream_search(self.ctx, prompt_ids, question, on_event=writer)
        self.state: RainState | None = None
        self.sent = ""
        self.commits_seen = 0

    def delta(self, state: RainState) -> str:
        """New committed text since the last call ('' when nothing new was committed)."""
        self.state = state
        if len(state["commits"]) == self.commits_seen:
            return ""
        self.commits_seen = len(state["commits"])
        from rain_guard.search.run import cut_at_stop

        text = cut_at_stop(self.ctx.backend.detokenize(state["answer_ids"]), self.ctx.stop)
        if not text.startswith(self.sent):
            return ""  # a multi-byte character is still incomplete; send it with the next set
        new, self.sent = text[len(self.sent) :], text
        return new

    def final_chunk(self) -> ChatGenerationChunk:
        """The closing chunk: any unsent text, usage, metadata and the search trace."""
        import time

        assert self.state is not None
        result = result_from_state(
            self.ctx, self.state, time.perf_counter() - self.started, self.counters_before
        )
        rest = result.text[len(self.sent) :] if result.text.startswith(self.sent) else ""
        message = AIMessageChunk(
            content=rest,
            usage_metadata=_usage(result),
            response_metadata=_metadata(result, self.model_name, self.ctx),
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)


def _parent_stream_writer() -> Callable[[Any], None] | None:
    """The enclosing LangGraph run's custom-stream writer, if ChatRAIN runs inside a graph.

    Search progress (iterations and commits) then reaches ``stream_mode="custom"`` of the
    caller's graph; evaluator calls never reach ``stream_mode="messages"`` because they do
    not go through LangChain callbacks at all.
    """
    try:
        from langgraph.config import get_stream_writer

        return get_stream_writer()
    except (ImportError, RuntimeError, KeyError):  # not inside a LangGraph run
        return None


def _chunk(text: str) -> ChatGenerationChunk:
    return ChatGenerationChunk(message=AIMessageChunk(content=text))


def _result_from_chunks(chunks: list[ChatGenerationChunk | None]) -> ChatResult:
    merged = None
    for chunk in chunks:
        if chunk is not None:
            merged = chunk if merged is None else merged + chunk
    assert merged is not None
    msg = merged.message
    message = AIMessage(
        content=msg.content,
        id=msg.id,
        usage_metadata=msg.usage_metadata,
        response_metadata=msg.response_metadata,
    )
    return ChatResult(generations=[ChatGeneration(message=message)])


def _usage(result: GenerationResult) -> dict[str, Any]:
    out_tokens = len(result.token_ids)
    return {
        "input_tokens": result.prompt_tokens,
        "output_tokens": out_tokens,
        "total_tokens": result.prompt_tokens + out_tokens,
        "output_token_details": {
            "search": max(0, result.counters.get("tokens_processed", 0) - out_tokens),
        },
    }


def _metadata(result: GenerationResult, model_name: str, ctx: RainContext) -> dict[str, Any]:
    budget = result.stop_reason in ("time_budget", "token_budget")
    cut_short = budget or result.stop_reason in ("length", "context")
    return {
        "model_name": model_name,
        "model_provider": "rain_guard",
        "finish_reason": "length" if cut_short else "stop",  # "length": the answer was cut
        "stop_reason": result.stop_reason,
        "budget_exhausted": budget,
        "iterations": result.iterations,
        "rewinds": result.rewinds,
        "final_value": result.final_value,
        "commit_values": [c["value"] for c in result.commits],
        "seconds": round(result.seconds, 3),
        "counters": result.counters,
        "trace": {
            "criterion": getattr(getattr(ctx.evaluator, "criterion", None), "name", None),
            "commits": result.commits,
        },
    }
