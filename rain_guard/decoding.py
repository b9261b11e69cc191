"""Every way this project answers a prompt, in one table: name, letter, description, callable.

``rain-guard bench`` (its "arms") and ``rain-guard eval run`` (its "methods") both pick from
``METHODS``; the bench's report letters (a)-(d) are the letters here:

* ``rain``           (a) RAIN as implemented: KV caches reused, candidates and evaluations batched.
* ``reference``      (b) the same search decisions computed the reference implementation's
                     way (``ReferenceCostBackend``: each forward from scratch, unbatched).
* ``vanilla``        (c) greedy decoding with a KV cache (``vanilla_generate``).
* ``paper_vanilla``  (d) greedy decoding without a KV cache, as the paper's baseline ran
                     (``use_cache=False``), capped at the same ``max_new_tokens`` as RAIN.
* ``adaptive``       RAIN with the adaptive budget (``SearchConfig.adaptive_commit``).
* ``bon``            best-of-N: N sampled answers, the one the evaluator scores best. Matched
                     budget: N is the number of evaluations RAIN spent on the same prompt.

The table lives outside ``bench`` and ``eval`` because both use it and neither owns the idea;
the methods that need torch import it only when they run, so reading the table (for a help
text) stays cheap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rain_guard.backends.base import Backend, ProposalRequest, WorkCounters
from rain_guard.errors import ConfigError
from rain_guard.judging.evaluator import Evaluator, checked_scores
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.search.config import WHOLE_ANSWER_TOP_K, SearchConfig
from rain_guard.search.embeddings import Embedder
from rain_guard.search.run import GenerationResult, prepare_prompt, rain_generate, vanilla_generate

if TYPE_CHECKING:
    from rain_guard.bench.reference_cost import ReferenceCostBackend

Turns = list[tuple[str, str]]
BON_DEFAULT_N = 16  # best-of-N's N when no RAIN run on the prompt set it
BON_MAX_N = 64  # answers sampled per batch at most (bounds memory)
BON_TOP_K = WHOLE_ANSWER_TOP_K  # sampling pool of best-of-N answers (tokens per step)


@dataclass
class DecodingContext:
    """What a method needs besides the prompt; one per command run, varied per answer.

    Attributes:
        backend: The generating model.
        config: RAIN settings; ``max_new_tokens`` caps every method.
        evaluator_for: The evaluator to use with a backend (RAIN's judge, best-of-N's
            selector); called with ``backend`` or with (b)'s counting wrapper of it.
        embedder: Sentence encoder of RAIN's similarity update (None: off).
        on_event: Called with each progress event of a RAIN search (None: no progress).
        reference: (b)'s counting wrapper of ``backend``, kept across answers by a caller that
            reads its cache peak (None: (b) makes a fresh one per answer).
        samples: best-of-N's N (None: ``BON_DEFAULT_N``), drawn ``BON_MAX_N`` at a time.
    """

    backend: Backend
    config: SearchConfig
    evaluator_for: Callable[[Backend], Evaluator] = SelfEvaluator
    embedder: Embedder | None = None
    on_event: Callable[[dict[str, Any]], None] | None = None
    reference: ReferenceCostBackend | None = None
    samples: int | None = None


@dataclass
class Decoded:
    """One method's answer.

    Attributes:
        result: The answer and its cost; ``seconds`` is the time charged to the method ((b):
            without the inner model's calls; NaN when (b) was only counted).
        evaluations: Answers or drafts the evaluator scored: one per RAIN search iteration,
            N for best-of-N, 0 for greedy decoding.
    """

    result: GenerationResult
    evaluations: int = 0


@dataclass(frozen=True)
class DecodingMethod:
    """One entry of ``METHODS``.

    Attributes:
        name: The name on the command line and in result files.
        letter: The bench report's letter ("a" to "d"), or "" for methods without one.
        title: The method's row title in the bench report.
        description: One line for help texts.
        run: Answers the chat turns in a context.
    """

    name: str
    letter: str
    title: str
    description: str
    run: Callable[[DecodingContext, Turns], Decoded]

    @property
    def short_name(self) -> str:
        """The letter in parentheses, as in ratio names (e.g. "(a)"), else the name."""
        return f"({self.letter})" if self.letter else self.name


def _rain(context: DecodingContext, turns: Turns) -> Decoded:
    result = rain_generate(
        context.backend,
        turns,
        config=context.config,
        evaluator=context.evaluator_for(context.backend),
        embedder=context.embedder,
        on_event=context.on_event,
    )
    return Decoded(result, result.iterations)


def _adaptive(context: DecodingContext, turns: Turns) -> Decoded:
    config = context.config.replace(adaptive_commit=True)
    return _rain(replace(context, config=config), turns)


def _reference(context: DecodingContext, turns: Turns) -> Decoded:
    """(b): RAIN through the counting wrapper; its time excludes the inner backend's calls."""
    from rain_guard.bench.reference_cost import ReferenceCostBackend

    wrapper = context.reference or ReferenceCostBackend(context.backend)
    wrapper.reset()
    inner_before = wrapper.inner_seconds
    decoded = _rain(replace(context, backend=wrapper), turns)
    seconds = decoded.result.seconds - (wrapper.inner_seconds - inner_before)
    if not wrapper.compute:
        seconds = math.nan
    return Decoded(replace(decoded.result, seconds=seconds), decoded.evaluations)


def _vanilla(context: DecodingContext, turns: Turns) -> Decoded:
    result = vanilla_generate(context.backend, turns, max_new_tokens=context.config.max_new_tokens)
    return Decoded(result)


def _paper_vanilla(context: DecodingContext, turns: Turns) -> Decoded:
    """(d): greedy decoding without a KV cache (replayed for backends without a model)."""
    from rain_guard.bench.reference_cost import ReferenceCostBackend, uncached_greedy_generate

    backend, config = context.backend, context.config
    start = time.perf_counter()
    prompt_ids, _ = prepare_prompt(backend, turns, config)
    cap = min(config.max_new_tokens, backend.context_length - len(prompt_ids))
    model = getattr(backend, "model", None)
    if model is not None:
        counters = WorkCounters()
        ids = uncached_greedy_generate(
            model,
            prompt_ids,
            max_new_tokens=cap,
            stop_ids=backend.stop_token_ids,
            counters=counters,
        )
        seconds = time.perf_counter() - start
    else:
        wrapper = ReferenceCostBackend(backend)
        ids = wrapper.generate(prompt_ids, max_new_tokens=cap, seed=None)
        counters = wrapper.counters
        seconds = time.perf_counter() - start - wrapper.inner_seconds
    result = GenerationResult(
        text=backend.detokenize(ids),
        token_ids=list(ids),
        stop_reason="vanilla-length" if len(ids) >= cap else "vanilla-eos",
        seconds=seconds,
        counters={
            "forward_calls": counters.forward_calls,
            "tokens_processed": counters.tokens_processed,
        },
        prompt_tokens=len(prompt_ids),
    )
    return Decoded(result)


def _best_of_n(context: DecodingContext, turns: Turns) -> Decoded:
    """Sample N distinct answers (the greedy one first), keep the best-scored.

    Answers are drawn in batches of at most ``BON_MAX_N`` (bounding memory), each batch with
    its own seed and excluding the answers already drawn, until N are found or a batch
    finds no new one.
    """
    backend, config = context.backend, context.config
    n = max(1, context.samples or BON_DEFAULT_N)
    start = time.perf_counter()
    before = backend.counters.snapshot()
    prompt_ids, question = prepare_prompt(backend, turns, config)
    found: list[tuple[int, ...]] = []
    for batch in range(n):
        request = ProposalRequest(
            prefix=tuple(prompt_ids),
            num_candidates=min(BON_MAX_N, n - len(found)),
            length=config.max_new_tokens,
            top_k=BON_TOP_K,
            seed=config.seed + batch,
            temperature=config.temperature,
            exclude=frozenset(found),
        )
        drawn = [c.tokens for c in backend.propose([request])[0]]
        found += drawn
        if not drawn or len(found) >= n:
            break
    stops = backend.stop_token_ids
    answers = [[t for t in tokens if t not in stops] for tokens in found]
    texts = [backend.detokenize(ids) for ids in answers]
    scores = checked_scores(context.evaluator_for(backend), question, texts)
    best = max(range(len(texts)), key=lambda i: scores[i])
    result = GenerationResult(
        text=texts[best],
        token_ids=answers[best],
        stop_reason="best-of-n",
        seconds=time.perf_counter() - start,
        counters=backend.counters.since(before),
        prompt_tokens=len(prompt_ids),
    )
    return Decoded(result, len(texts))


METHODS: dict[str, DecodingMethod] = {
    m.name: m
    for m in (
        DecodingMethod(
            "rain",
            "a",
            "(a) RAIN",
            "RAIN as implemented: KV caches reused, candidates and evaluations batched",
            _rain,
        ),
        DecodingMethod(
            "reference",
            "b",
            "(b) RAIN, reference's way",
            "(a)'s search decisions computed the reference implementation's way "
            "(every forward pass from scratch, unbatched)",
            _reference,
        ),
        DecodingMethod(
            "vanilla", "c", "(c) vanilla, KV cache", "greedy decoding with a KV cache", _vanilla
        ),
        DecodingMethod(
            "paper_vanilla",
            "d",
            "(d) vanilla, no cache",
            "greedy decoding without a KV cache, as the paper's baseline ran",
            _paper_vanilla,
        ),
        DecodingMethod(
            "adaptive",
            "",
            "RAIN, adaptive budget",
            "RAIN that commits early when a draft is judged clearly good",
            _adaptive,
        ),
        DecodingMethod(
            "bon",
            "",
            "best-of-N",
            "N sampled answers, the evaluator's best; N = RAIN's evaluations on the prompt",
            _best_of_n,
        ),
    )
}


def method_names(text: str, allowed: Iterable[str], option: str) -> list[str]:
    """The methods of a comma list of names or letters ("rain,c" or "(a),(c)"), in its order.

    Raises:
        ConfigError: a name or letter is not one of ``allowed``; the message names ``option``
            and lists what it takes.
    """
    allowed = list(allowed)
    by_letter = {METHODS[n].letter: n for n in allowed if METHODS[n].letter}
    names, unknown = [], []
    for word in (w.strip() for w in text.split(",")):
        key = word.strip("()")
        name = word if word in allowed else by_letter.get(key) if key else None
        if name is not None:
            names.append(name)
        elif word:
            unknown.append(word)
    if unknown:
        raise ConfigError(f"{option}: unknown {unknown}; use {', '.join(choices(allowed))}")
    return names


def choices(names: Sequence[str]) -> list[str]:
    """``names`` with their letters, e.g. "rain (a)", for messages."""
    return [f"{n} ({METHODS[n].letter})" if METHODS[n].letter else n for n in names]


def help_lines(names: Sequence[str]) -> str:
    """One help line per method: name, letter and description."""
    pairs = zip(names, choices(names), strict=True)
    return "; ".join(f"{choice}: {METHODS[name].description}" for name, choice in pairs)
