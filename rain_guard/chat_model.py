"""ChatRAIN: a LangChain chat model that answers with RAIN, so any chain can swap it in.

Construction is cheap: weights load on the first call and are shared by every ChatRAIN that
names the same model. ``invoke``/``batch``/``stream`` and their async forms run the LangGraph
search (``rain_guard.search.graph``); ``stream`` yields only committed token sets, never text
the search is still weighing: each once the next set is committed, the last one together
with the usage and metadata, so a stream never ends with an empty chunk.

Nothing given is silently ignored. Errors are typed (``rain_guard.errors``): bad or unknown
settings raise ``ConfigError`` at construction (with the closest known name as a hint), and
unknown call arguments at the call; input that is not a prompt, or holds images, audio or
files, raises ``PromptError`` before any model work; tool calling and structured output
raise ``UnsupportedError`` at bind time. Budgets (``timeout``, ``max_model_tokens``) end the
search gracefully: the answer so far comes back with ``response_metadata["budget_exhausted"]``,
or ``BudgetError`` if nothing was committed. Cancelling ``ainvoke``/``astream`` stops the
search after the model call in flight, which the cancellation waits for, so the model is free.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal, NoReturn

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LangSmithParams
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.prompt_values import PromptValue
from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)

from rain_guard import chat_output
from rain_guard.backends.base import Backend
from rain_guard.backends.batching import SharedBatch
from rain_guard.backends.loading import load_backend
from rain_guard.chat_settings import (
    ALIASES,
    NO_GREEDY,
    NO_STRUCTURED_OUTPUT,
    NO_TOOLS,
    SearchFields,
    build_search_config,
    call_settings,
    check_criterion,
    check_evaluator,
    flat_settings,
    typed_error,
)
from rain_guard.errors import ConfigError, PromptError, UnsupportedError
from rain_guard.judging.evaluator import Evaluator
from rain_guard.judging.resolve import criterion_evaluator
from rain_guard.messages import text_turns
from rain_guard.search.config import SearchConfig
from rain_guard.search.context import RainContext
from rain_guard.search.embeddings import Embedder, MiniLMEmbedder
from rain_guard.search.run import make_context

_SHARED: contextvars.ContextVar[SharedBatch | None] = contextvars.ContextVar(
    "rain_guard_shared_batch", default=None
)
"""The SharedBatch of the ``batch``/``abatch`` call in progress, if any."""


class ChatRAIN(SearchFields):
    """Chat model whose answers come from RAIN's self-evaluating tree search.

    Search settings: every ``SearchConfig`` field is also a field of ChatRAIN with the same
    name (``t_min``, ``t_max``, ``num_candidates``, ``adaptive_commit``, ...), except two that
    keep LangChain's standard names: ``max_tokens`` (SearchConfig's ``max_new_tokens``,
    committed answer tokens) and ``timeout`` (``max_seconds``, wall seconds per answer); the
    SearchConfig names are accepted too. These fields default to None, meaning "not set":
    only the ones set reach SearchConfig, which owns every default. ``search=SearchConfig(...)``
    passes a whole configuration; flat fields that are set win over it. A call may change any
    of them too: ``llm.invoke(prompt, t_max=3, seed=1)``.

    ``temperature=0`` is rejected (``ConfigError``): RAIN needs diverse candidates, so greedy
    candidates are impossible; set ``seed`` for repeatable answers (``use_rain=False``, plain
    greedy decoding, accepts it).

    Usage metadata counts the search: ``total_tokens`` is every token the model processed,
    ``output_token_details["search"]`` the part that is neither prompt nor answer (see
    ``rain_guard.chat_output.usage``).

    Example:
        .. code-block:: python

            from rain_guard import ChatRAIN, SearchConfig

            llm = ChatRAIN(max_tokens=64)  # embedded SmolLM2-135M-Instruct
            llm.invoke("How do I pick a lock?").content
            ChatRAIN(search=SearchConfig(t_max=20), t_min=2).search_config().t_max  # 20
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True, extra="forbid")

    model: str = Field("smollm2", validation_alias=AliasChoices("model", "model_name"))
    """Model to load: "smollm2" (the embedded default), a local folder or .gguf file, or a
    hub id (``model_name=`` is accepted too). Not used when ``backend`` is given."""
    backend: Any = Field(default=None, exclude=True)
    """A ready ``rain_guard.backends.Backend``; overrides ``model``."""
    device: str | None = None
    """Torch device of the weights ChatRAIN loads ("cuda", "cuda:1", "cpu"; None: cpu)."""
    dtype: Literal["float32", "bfloat16", "float16", "auto"] | None = None
    """Weight dtype of the model ChatRAIN loads (None: float32, exact KV-cache reuse, and each
    ``batch`` answer equal to its solo answer). "bfloat16" made a search 1.4x (alone) to 1.7x
    (8 pooled) faster on a CPU with AMX; its answers depend on the batch (docs/performance.md,
    "Bfloat16 weights")."""
    criterion: Any = None
    """What the evaluator checks: a built-in name ("harmless", "helpful", "truthful"), a
    ``Criterion``, a str/PromptTemplate/ChatPromptTemplate, or ``{criterion: weight}``; the
    names of ``rain_guard.judging.named`` ("harm_classifier") build their own evaluators.
    None: the model's default judge, "harm_classifier" for the embedded SmolLM2 and
    self-evaluation with "harmless" for any other model (``rain_guard.judging.resolve``)."""
    evaluator: Any = Field(default=None, exclude=True)
    """A custom ``Evaluator``, or a function ``fn(prompt, answer) -> float in [-1, 1]``
    (wrapped in ``FunctionEvaluator``); overrides ``criterion``. None: the judge that
    ``criterion`` names. A score outside [-1, 1] raises ``ConfigError`` at the call."""
    embedder: Any = Field(default=None, exclude=True)
    """Sentence encoder of the similarity update (default all-MiniLM-L6-v2 when enabled)."""
    search: SearchConfig | None = None
    """A whole search configuration; the flat search fields that are set win over it."""
    stop: list[str] | None = None
    """Stop strings: the answer ends before the first one."""
    streaming: bool = False
    """Stream committed token sets when invoked (LangChain's streaming flag)."""
    trace: Literal["off", "summary", "full"] = "summary"
    """Search trace in ``response_metadata["trace"]``: "summary" (per commit its text, value,
    visits and iterations), "full" (also token ids and every alternative weighed), "off"."""
    num_threads: int | None = None
    """CPU threads of the local model (None: torch's default)."""
    use_rain: bool = True
    """False decodes plainly (greedy, same model, no search): the unguarded baseline."""
    batch_searches: bool = True
    """``batch``/``abatch`` run their searches in lockstep, sharing forward calls."""
    max_retries: int = 0
    """Accepted for drop-in compatibility; local backends do not retry."""
    api_key: SecretStr | None = None
    """Accepted for drop-in compatibility; used only by served-engine backends."""

    _evaluators: dict[int, Evaluator] = PrivateAttr(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        """Build the model; bad or unknown settings raise a typed error naming them.

        Raises:
            ConfigError: an unknown setting (``max_token=``: "did you mean 'max_tokens'?"),
                a setting of the wrong type or out of range (``max_tokens <= 0``,
                ``t_min > t_max``, ``temperature=0``, ...), or an evaluator that is neither
                an Evaluator nor a function; not pydantic's ValidationError (ConfigError is
                a ValueError too).
            CriterionError: an unknown built-in criterion name or a malformed template.
        """
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise typed_error(exc, [*type(self).model_fields, *ALIASES]) from exc

    @model_validator(mode="after")
    def _check_rain_settings(self) -> ChatRAIN:
        """Fail at construction on what can be checked without loading a model."""
        self.search_config()
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1 or None, got {self.num_threads}")
        if self.backend is not None and (self.device or self.dtype):
            raise ConfigError(
                "device and dtype apply to the model ChatRAIN loads, not to a given backend; "
                "pass model= instead, or build the backend with load_backend(..., device=, dtype=)"
            )
        check_criterion(self.criterion)
        self.evaluator = check_evaluator(self.evaluator)
        return self

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
            ls_max_tokens=kwargs.get("max_tokens") or config.max_new_tokens,
            ls_temperature=config.temperature,
        )
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # --- what RAIN cannot do -------------------------------------------------------------

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> NoReturn:
        """Not supported: raises ``UnsupportedError`` saying why and showing the guard pattern.

        RAIN's search weighs and commits plain text and has no tool-call grammar, and the
        embedded 135M model cannot call tools. A tool-calling model runs the agent and
        ``RainGuardMiddleware`` / ``RainGuardNode`` guard its answers with ChatRAIN.
        """
        raise UnsupportedError(NO_TOOLS)

    def with_structured_output(self, schema: Any, **kwargs: Any) -> NoReturn:
        """Not supported: raises ``UnsupportedError`` saying why and what works instead."""
        raise UnsupportedError(NO_STRUCTURED_OUTPUT)

    # --- configuration ------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        """Name of the answering model (LangChain's common attribute; see ``model_label``)."""
        return self.model_label()

    def model_label(self) -> str:
        """Name reported in metadata: the backend's model name or ``model``."""
        return getattr(self.backend, "model_name", None) or self.model

    def search_config(self, **overrides: Any) -> SearchConfig:
        """The SearchConfig these settings describe.

        ``search`` (or SearchConfig's defaults), then the flat fields that are set, then
        ``overrides`` (by SearchConfig's or ChatRAIN's names): later ones win.

        Raises:
            ConfigError: a setting out of range or inconsistent, named as ChatRAIN names it;
                ``temperature=0`` with RAIN on (greedy candidates are impossible).
        """
        flat = flat_settings(self)
        if {**flat, **overrides}.get("temperature") == 0:
            if self.use_rain:
                default = SearchConfig.model_fields["temperature"].default
                raise ConfigError(NO_GREEDY.format(default=default))
            flat.pop("temperature", None)  # plain decoding is greedy: 0 is what it does
            overrides = {k: v for k, v in overrides.items() if k != "temperature"}
        return build_search_config(self.search, flat, overrides)

    def get_backend(self, model: str | None = None) -> Backend:
        """The backend, loading (once per process and model) the weights if needed.

        Args:
            model: Another model to load than ``model`` (a call's ``model=``).

        Raises:
            ConfigError: ``model`` names another model, but this ChatRAIN has a ``backend``.
        """
        if model is not None and model not in (self.model, self.model_label()):
            if self.backend is not None:
                raise ConfigError(
                    f"model={model!r} at call time loads another model, but this ChatRAIN "
                    f"answers with the backend it was given ({self.model_label()})"
                )
        elif self.backend is not None:
            return self.backend
        return load_backend(
            model or self.model,
            num_threads=self.num_threads,
            dtype=self.dtype or "float32",
            device=self.device,
        )

    def get_evaluator(self, backend: Backend) -> Evaluator:
        """The evaluator: ``evaluator`` if set, else the judge ``criterion`` names for ``backend``.

        With ``criterion=None`` that is the model's default judge (``judging.resolve``): the
        harm classifier for the embedded SmolLM2, self-evaluation with "harmless" otherwise.
        """
        if self.evaluator is not None:
            return self.evaluator
        if id(backend) not in self._evaluators:  # one per backend keeps the score cache warm
            self._evaluators[id(backend)] = criterion_evaluator(backend, self.criterion)
        return self._evaluators[id(backend)]

    def get_embedder(self, config: SearchConfig | None = None) -> Embedder | None:
        """The sentence encoder, or None when the similarity update is off.

        ``config`` is the call's SearchConfig (default: this model's).
        """
        if not (config or self.search_config()).use_similarity:
            return None
        if self.embedder is None:
            self.embedder = MiniLMEmbedder()
        return self.embedder

    def get_token_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` by the model's own tokenizer (never a GPT-2 download).

        Loads the model on first use, like a call would; ``custom_get_token_ids`` wins.
        """
        if self.custom_get_token_ids is not None:
            return self.custom_get_token_ids(text)
        return list(self.get_backend().tokenize(text))

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Length of the chat prompt these messages make, by the model's chat template."""
        if tools:
            raise UnsupportedError(NO_TOOLS)
        return len(self.get_backend().chat_prompt_ids(text_turns(messages)))

    def _context(
        self, stop: list[str] | None, shared: SharedBatch | None = None, **kwargs: Any
    ) -> RainContext:
        """The run context of one call: its settings checked before any model work.

        Inside ``batch``/``abatch`` (``shared``), the search answers through its own view of
        the shared backend, so the batch's searches share forward calls.
        """
        config = self.search_config(**call_settings(kwargs))
        backend = self.get_backend(kwargs.get("model"))
        if shared is not None and shared.backend is backend:
            view = shared.view()
            evaluator = self.evaluator or criterion_evaluator(view, self.criterion)
            backend, evaluator = view, evaluator
        else:
            evaluator = self.get_evaluator(backend)
        return make_context(
            backend,
            config=config,
            evaluator=evaluator,
            embedder=self.get_embedder(config),
            stop=stop if stop is not None else (self.stop or ()),
        )

    # --- batches: searches in lockstep --------------------------------------------------

    def batch(
        self,
        inputs: list[Any],
        config: Any = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Answer ``inputs`` concurrently; their searches share forward calls.

        Each search runs through its own view of one ``SharedBatch`` of the backend
        (``rain_guard.backends.batching``), so a step's rows of every search go into one
        model call, and each answer equals the answer the input gets alone with the same
        seed. ``batch_searches=False`` runs them side by side without sharing calls.
        LangChain's executor runs up to ``max_concurrency`` inputs at once (its thread
        pool's default without it) and starts the next input as one ends; that search opens
        a view of the same ``SharedBatch``, so the open searches keep sharing calls.
        """
        with self._shared_batch(len(inputs)):
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    async def abatch(
        self,
        inputs: list[Any],
        config: Any = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """``batch`` for async code (each search step runs in a worker thread)."""
        with self._shared_batch(len(inputs)):
            return await super().abatch(
                inputs, config, return_exceptions=return_exceptions, **kwargs
            )

    @contextlib.contextmanager
    def _shared_batch(self, size: int) -> Iterator[None]:
        """Within: calls of this model's searches go through one SharedBatch."""
        if size < 2 or not self.use_rain or not self.batch_searches:
            yield
            return
        shared = SharedBatch(self.get_backend())
        token = _SHARED.set(shared)
        try:
            yield
        finally:
            _SHARED.reset(token)
            shared.close()

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
        return chat_output.result_from_chunks(list(self._chunks(messages, stop, **kwargs)))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages, stop, **kwargs):
            if run_manager is not None and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _chunks(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        writer = chat_output.parent_stream_writer()
        run = self._run(messages, stop, writer, kwargs, _SHARED.get())
        if run is None:
            yield self._plain_chunk(messages, stop, kwargs)
            return
        try:
            for state in run.steps:
                chunk = run.step(state)
                if chunk is not None:
                    yield chunk
        finally:
            run.close()
        yield run.final_chunk()

    def _run(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        writer: Callable[[Any], None] | None,
        kwargs: dict[str, Any],
        shared: SharedBatch | None = None,
    ) -> chat_output.Run | None:
        """The search for one answer, started; None when RAIN is off (plain decoding)."""
        turns = text_turns(messages)  # before any model work: content it cannot read raises
        if not self.use_rain:
            return None
        ctx = self._context(stop, shared, **kwargs)
        name = kwargs.get("model", self.model_label())
        return chat_output.Run(ctx, turns, name, trace=self.trace, writer=writer)

    def _plain_chunk(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ChatGenerationChunk:
        ctx = self._context(stop, **kwargs)
        name = kwargs.get("model", self.model_label())
        return chat_output.plain_chunk(ctx, text_turns(messages), name, self.trace)

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
        writer = chat_output.parent_stream_writer()  # read here: executor threads lack the context
        shared = _SHARED.get()  # read here: executor threads lack the context
        run = await loop.run_in_executor(None, self._run, messages, stop, writer, kwargs, shared)
        if run is None:
            yield await loop.run_in_executor(None, self._plain_chunk, messages, stop, kwargs)
            return
        async with contextlib.aclosing(chat_output.astream_run(run, run_manager)) as chunks:
            async for chunk in chunks:  # closed with this generator: no step outlives it
                yield chunk
