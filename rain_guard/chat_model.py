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
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LangSmithParams
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.prompt_values import PromptValue
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from rain_guard import chat_output
from rain_guard.backends.base import Backend
from rain_guard.backends.loading import load_backend
from rain_guard.chat_settings import SearchFields, build_search_config, flat_settings, typed_error
from rain_guard.errors import ConfigError, CriterionError, PromptError
from rain_guard.judging.criteria import BUILTIN_CRITERIA, Criterion
from rain_guard.judging.evaluators import CombinedEvaluator, Evaluator, SelfEvaluator
from rain_guard.judging.prompts import REQUIRED_PLACEHOLDERS
from rain_guard.judging.templates import criterion_from_template
from rain_guard.messages import to_turns
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import Embedder, MiniLMEmbedder
from rain_guard.search.graph import RainContext, RainState
from rain_guard.search.run import (
    make_context,
    vanilla_generate,
)


class ChatRAIN(SearchFields):
    """Chat model whose answers come from RAIN's self-evaluating tree search.

    Search settings: every ``SearchConfig`` field is also a field of ChatRAIN with the same
    name (``t_min``, ``t_max``, ``num_candidates``, ``adaptive_commit``, ...), except two that
    keep LangChain's standard names: ``max_tokens`` (SearchConfig's ``max_new_tokens``,
    committed answer tokens) and ``timeout`` (``max_seconds``, wall seconds per answer); the
    SearchConfig names are accepted too. These fields default to None, meaning "not set":
    only the ones set reach SearchConfig, which owns every default. ``search=SearchConfig(...)``
    passes a whole configuration; flat fields that are set win over it.

    Example:
        .. code-block:: python

            from rain_guard import ChatRAIN, SearchConfig

            llm = ChatRAIN(max_tokens=64)  # embedded SmolLM2-135M-Instruct
            llm.invoke("How do I pick a lock?").content
            ChatRAIN(search=SearchConfig(t_max=20), t_min=2).search_config().t_max  # 20
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    model: str = "smollm2"
    """Model to load: "smollm2" (the embedded default), a local folder or .gguf file, or a
    hub id. Ignored when ``backend`` is given."""
    backend: Any = Field(default=None, exclude=True)
    """A ready ``rain_guard.backends.Backend``; overrides ``model``."""
    criterion: Any = "harmless"
    """What the evaluator checks: a built-in name ("harmless", "helpful", "truthful"), a
    ``Criterion``, a str/PromptTemplate/ChatPromptTemplate, or ``{criterion: weight}``."""
    evaluator: Any = Field(default=None, exclude=True)
    """A custom ``Evaluator``; overrides ``criterion`` (default: self-evaluation)."""
    embedder: Any = Field(default=None, exclude=True)
    """Sentence encoder of the similarity update (default all-MiniLM-L6-v2 when enabled)."""
    search: SearchConfig | None = None
    """A whole search configuration; the flat search fields that are set win over it."""
    stop: list[str] | None = None
    """Stop strings: the answer ends before the first one."""
    streaming: bool = False
    """Stream committed token sets when invoked (LangChain's streaming flag)."""
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
            raise typed_error(exc) from exc

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
        config = self.search_config()
        params = LangSmithParams(
            ls_provider="rain_guard",
            ls_model_name=kwargs.get("model", self.model_label()),
            ls_model_type="chat",
            ls_max_tokens=config.max_new_tokens,
            ls_temperature=config.temperature,
        )
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # --- configuration ------------------------------------------------------------------

    def model_label(self) -> str:
        """Name reported in metadata: the backend's model name or ``model``."""
        return getattr(self.backend, "model_name", None) or self.model

    def search_config(self, **overrides: Any) -> SearchConfig:
        """The SearchConfig these settings describe.

        ``search`` (or SearchConfig's defaults), then the flat fields that are set, then
        ``overrides`` (by SearchConfig's or ChatRAIN's names): later ones win.

        Raises:
            ConfigError: a setting out of range or inconsistent, named as ChatRAIN names it.
        """
        flat = flat_settings(self)
        if flat.get("temperature") == 0:  # documented: 0 means the reference's temperature
            del flat["temperature"]
        return build_search_config(self.search, flat, overrides)

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

    def _self_evaluator(self, backend: Backend, criterion: Any) -> SelfEvaluator:
        if not isinstance(criterion, Criterion) and not (
            isinstance(criterion, str) and "{" not in criterion
        ):
            criterion = criterion_from_template(criterion)
        return SelfEvaluator(backend, criterion)

    def get_embedder(self, config: SearchConfig | None = None) -> Embedder | None:
        """The sentence encoder, or None when the similarity update is off.

        ``config`` is the call's SearchConfig (default: this model's).
        """
        if not (config or self.search_config()).use_similarity:
            return None
        if self.embedder is None:
            self.embedder = MiniLMEmbedder()
        return self.embedder

    def _context(self, stop: list[str] | None, **kwargs: Any) -> RainContext:
        backend = self.get_backend()
        overrides = {k: kwargs[k] for k in ("seed", "max_tokens") if k in kwargs}
        config = self.search_config(**overrides)
        return make_context(
            backend,
            config=config,
            evaluator=self.get_evaluator(backend),
            embedder=self.get_embedder(config),
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
            return chat_output.result_from_chunks(chunks)
        return chat_output.result_from_chunks(list(self._stream_chunks(messages, stop, **kwargs)))

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
        run = chat_output.Run(
            self, messages, stop, writer=chat_output.parent_stream_writer(), **kwargs
        )
        for state in run.steps:
            delta = run.delta(state)
            if delta:
                yield chat_output.chunk(delta)
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
            usage_metadata=chat_output.usage(result),
            response_metadata=chat_output.metadata(
                result, kwargs.get("model", self.model_label()), ctx
            ),
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
        return chat_output.result_from_chunks(chunks)

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
        writer = chat_output.parent_stream_writer()  # read here: executor threads lack the context
        run = await loop.run_in_executor(
            None, lambda: chat_output.Run(self, messages, stop, writer=writer, **kwargs)
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
                    chunk = chat_output.chunk(delta)
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk
        finally:
            await chat_output.finish_step(step)
            with contextlib.suppress(ValueError):  # generator still running: cannot happen now
                run.steps.close()
        yield run.final_chunk()


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
        if criterion not in BUILTIN_CRITERIA:
            needs = ", ".join("{" + name + "}" for name in sorted(REQUIRED_PLACEHOLDERS))
            raise CriterionError(
                f"unknown criterion {criterion!r}; built-ins: {sorted(BUILTIN_CRITERIA)} "
                f"(or pass a template with {needs})"
            )
    elif not isinstance(criterion, Criterion):
        criterion_from_template(criterion)  # raises CriterionError on a malformed template
