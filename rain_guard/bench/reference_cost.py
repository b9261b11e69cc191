"""ReferenceCostBackend: our search decisions, computed (also) the way the reference computes them.

The reference implementation of RAIN (SafeAILab/RAIN, HH/main.py) recomputes almost every
forward pass: each candidate token set is sampled on its own, starting with a full prefill of
the whole context (``group_getp``); each roll-out starts with a full prefill (``simg``); each
evaluation prompt is run in full, one option order at a time (``getv``); and the vanilla
baseline runs ``generate(use_cache=False)``. The one thing it reuses is ``dicp``, a dict from
an exact token sequence to its next-token logits: a sequence seen before costs no forward pass,
but its KV cache is dropped, so the next token of that walk needs a full prefill again.

To compare costs at *identical decisions*, this wrapper returns exactly what the inner backend
returns (so the search takes the same path, token for token) and, after each call, replays the
reference's computation of that call's results with the same model: real forward passes,
counted in ``counters`` and timed in ``reference_seconds``. Time spent in the inner backend is
kept apart in ``inner_seconds``, so ``wall time - inner_seconds`` is what the same search costs
when computed the reference's way.

What the replay leaves out (so it slightly *under*-states the reference's cost): samples the
reference draws and throws away as duplicates, tokens it generates past an end-of-sequence id
inside a candidate, and its longer few-shot evaluation prompt (ours are replayed as they are).

Do not combine it with ``SearchConfig.max_model_tokens``: that budget reads ``counters``, which
here count the reference's work, so the search would stop earlier than with the inner backend.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch

from rain_guard.backends.base import (
    Candidate,
    ProposalRequest,
    WorkCounters,
    propose_and_roll_out,
    rollout_kwargs,
)
from rain_guard.backends.transformers.cache_ops import new_cache
from rain_guard.backends.transformers.forward import cache_keyword
from rain_guard.backends.transformers.kv_memory import kv_bytes_per_token

T = TypeVar("T")


class ReferenceCostBackend:
    """Wraps a ``TransformersBackend``: same results, plus the reference's work, measured.

    Args:
        inner: The backend that computes the results. With a ``model`` attribute (a
            ``TransformersBackend``) the replay runs that model; without one (``FakeBackend``)
            the replay is only counted, which is enough for tests of the accounting.
        compute: Run the replayed forward passes (True) or only count them (False: the
            counters are the same, exactly, and its time means nothing). Counting alone
            measures the reference's work where running it would take hours.
        state_logits_cache: Model the reference's ``dicp`` (exact sequences reuse their
            logits, without their KV cache). True is faithful to the reference; False
            recomputes every step as the brief description of the reference does.

    Attributes:
        compute: Whether the replayed forward passes run (and its time means something).
        counters: The reference's work: forward calls and tokens processed by the replay;
            evaluation prompts and cache hits are added by the evaluator as usual, and
            ``extra["evaluation_prompt_tokens"]`` sums the lengths of the prompts scored.
        inner_seconds: Wall time spent inside the inner backend's calls.
        reference_seconds: Wall time of the replayed forward passes.
        peak_cache_bytes: Most cache memory the reference holds at once during the query
            (since ``reset``): the KV cache of the walk or evaluation prompt in progress plus
            its ``dicp``, one float32 logits row per sequence seen. None when the model's
            shapes are unknown (``FakeBackend``).
    """

    def __init__(
        self, inner: Any, *, state_logits_cache: bool = True, compute: bool = True
    ) -> None:
        self.inner = inner
        self.compute = compute
        # None: count the replay, compute nothing
        self.model = getattr(inner, "model", None) if compute else None
        self.model_name = inner.model_name
        self.counters = WorkCounters()
        self.state_logits_cache = state_logits_cache
        self.inner_seconds = 0.0
        self.reference_seconds = 0.0
        self._seen: set[tuple[int, int]] = set()  # (length, hash) of sequences in "dicp"
        model = getattr(inner, "model", None)
        self._cache_kw = cache_keyword(model) if model is not None else "past_key_values"
        self._kv_per_token = kv_bytes_per_token(model) if model is not None else None
        self._logits_bytes = 0  # one float32 row of logits per dicp entry
        if self._kv_per_token is not None:
            self._logits_bytes = 4 * int(model.get_output_embeddings().weight.shape[0])
        self.peak_cache_bytes: int | None = None if self._kv_per_token is None else 0

    def reset(self) -> None:
        """Forget the modelled ``dicp``; the reference starts each query with an empty one."""
        self._seen.clear()
        if self.peak_cache_bytes is not None:
            self.peak_cache_bytes = 0

    # ----------------------------------------------------------------- pass-through

    @property
    def context_length(self) -> int:
        """The inner backend's context length."""
        return self.inner.context_length

    @property
    def stop_token_ids(self) -> frozenset[int]:
        """The inner backend's stop ids."""
        return self.inner.stop_token_ids

    def tokenize(self, text: str) -> list[int]:
        """The inner backend's ids of ``text`` (no model call)."""
        return self.inner.tokenize(text)

    def detokenize(self, ids: Sequence[int]) -> str:
        """The inner backend's text of ``ids`` (no model call)."""
        return self.inner.detokenize(ids)

    def chat_prompt_ids(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        """The inner backend's chat prompt ids (no model call)."""
        return self.inner.chat_prompt_ids(messages)

    @property
    def reuses_prefix_per_row(self) -> bool:
        """The inner backend's (the evaluator then batches exactly as it does unwrapped)."""
        return bool(getattr(self.inner, "reuses_prefix_per_row", False))

    def pin_prefix(self, ids: Sequence[int]) -> None:
        """Pin ``ids`` in the inner backend when it can; the reference pins nothing.

        Passed on so the inner backend computes exactly what it computes unwrapped (an
        evaluator pins its fixed prefix through whichever backend it is given). Nothing is
        replayed: the reference computes that prefix again inside every evaluation prompt,
        which the replay of ``option_probs`` counts.
        """
        pin = getattr(self.inner, "pin_prefix", None)
        if pin is not None:
            self._timed_inner(lambda: pin(ids))

    # ----------------------------------------------------------------- model calls

    def propose(self, requests: Sequence[ProposalRequest]) -> list[list[Candidate]]:
        """Inner candidates; replayed as ``group_getp``: each candidate sampled on its own.

        One-token sets come from a single next-token distribution (one step for all); longer
        sets are walked one by one, each from a fresh prefill of the whole prefix.
        """
        out = self._timed_inner(lambda: self.inner.propose(requests))
        with self._replaying():
            for request, candidates in zip(requests, out, strict=True):
                self._replay_proposal(request, candidates)
        return out

    def propose_with_rollout(
        self,
        request: ProposalRequest,
        *,
        boundaries: str,
        max_tokens: int,
        seed: int,
        temperature: float = 1.0,
    ) -> tuple[list[Candidate], list[int]]:
        """The inner backend's fused (or separate) proposal and roll-out, replayed apart.

        The reference has no fused call: its ``group_getp`` and ``simg`` are replayed as
        ``propose`` and ``rollout`` replay them.
        """
        settings = rollout_kwargs(boundaries, max_tokens, seed, temperature)
        candidates, new = self._timed_inner(
            lambda: propose_and_roll_out(self.inner, request, **settings)
        )
        with self._replaying():
            self._replay_proposal(request, candidates)
            self._replay_rollout(request.prefix, new)
        return candidates, new

    def rollout(
        self,
        prefixes: Sequence[Sequence[int]],
        *,
        boundaries: str,
        max_tokens: int,
        seed: int,
        temperature: float = 1.0,
    ) -> list[list[int]]:
        """Inner roll-outs; replayed as ``simg``: a fresh prefill, then one token per step."""
        settings = rollout_kwargs(boundaries, max_tokens, seed, temperature)
        out = self._timed_inner(lambda: self.inner.rollout(prefixes, **settings))
        with self._replaying():
            for prefix, new in zip(prefixes, out, strict=True):
                self._replay_rollout(prefix, new)
        return out

    def option_probs(
        self, prompts: Sequence[Sequence[int]], option_ids: Sequence[int]
    ) -> list[list[float]]:
        """Inner probabilities; replayed as ``getv``: every prompt in full, one at a time."""
        out = self._timed_inner(lambda: self.inner.option_probs(prompts, option_ids))
        extra = self.counters.extra
        with self._replaying():
            for prompt in prompts:
                self._forward(list(prompt), None)
                self._hold(len(prompt))  # the model returned the prompt's KV in `outs`
                done = extra.get("evaluation_prompt_tokens", 0)
                extra["evaluation_prompt_tokens"] = done + len(prompt)
        return out

    def generate(
        self, prefix: Sequence[int], *, max_new_tokens: int, seed: int | None
    ) -> list[int]:
        """Inner vanilla answer; replayed as ``generate(use_cache=False)``."""
        out = self._timed_inner(
            lambda: self.inner.generate(prefix, max_new_tokens=max_new_tokens, seed=seed)
        )
        steps = len(out) + (1 if len(out) < max_new_tokens else 0)  # the step that chose EOS
        with self._replaying():
            for i in range(steps):
                self._forward([*prefix, *out[:i]], None)  # use_cache=False: no KV held
        return out

    # ----------------------------------------------------------------- the replay

    def _replay_proposal(self, request: ProposalRequest, candidates: list[Candidate]) -> None:
        """``group_getp``: one-token sets from one step, longer sets walked one by one."""
        prefix = tuple(request.prefix)
        if request.length == 1:
            self._walk(prefix, ())
            return
        for candidate in candidates:
            self._walk(prefix, candidate.tokens[:-1])

    def _replay_rollout(self, prefix: Sequence[int], new: Sequence[int]) -> None:
        """``simg``: a fresh prefill of the prefix, then one step per roll-out token."""
        if new:
            self._walk(tuple(prefix), tuple(new[:-1]))

    def _walk(self, prefix: tuple[int, ...], fed: tuple[int, ...]) -> None:
        """The reference's ``getp`` chain: logits after ``prefix``, then after each fed token.

        A sequence already in the modelled ``dicp`` costs nothing but drops the KV cache;
        without a cache the sequence is prefilled in full, with one only its last token is fed.
        """
        cache: Any = None
        state = prefix
        for i in range(len(fed) + 1):
            if i > 0:
                state = (*state, fed[i - 1])
            key = (len(state), hash(state))
            if self.state_logits_cache and key in self._seen:
                cache = None
                continue
            if cache is None:
                cache = self._new_cache()
                self._forward(list(state), cache)
            else:
                self._forward([state[-1]], cache)
            if self.state_logits_cache:
                self._seen.add(key)
            self._hold(len(state))

    def _hold(self, tokens: int) -> None:
        """The reference now holds ``tokens`` of KV cache and its ``dicp``: note the peak."""
        if self.peak_cache_bytes is not None:
            held = tokens * self._kv_per_token + len(self._seen) * self._logits_bytes
            self.peak_cache_bytes = max(self.peak_cache_bytes, held)

    def _forward(self, ids: list[int], cache: Any) -> None:
        """One unbatched model call with full logits, as the reference makes it."""
        self.counters.forward_calls += 1
        self.counters.tokens_processed += len(ids)
        if self.model is None:
            return
        kwargs: dict[str, Any] = {"use_cache": cache is not None}
        if cache is not None:
            kwargs[self._cache_kw] = cache
        self.model(input_ids=torch.tensor([ids], device=self.model.device), **kwargs)

    def _new_cache(self) -> Any:
        if self.model is None:
            return object()  # a stand-in: only "has a cache" matters when nothing runs
        return new_cache(self.model.config)

    def _timed_inner(self, call: Callable[[], T]) -> T:
        start = time.perf_counter()
        try:
            return call()
        finally:
            self.inner_seconds += time.perf_counter() - start

    @contextlib.contextmanager
    def _replaying(self) -> Iterator[None]:
        """One replay: inference mode, and its wall time added to ``reference_seconds``."""
        start = time.perf_counter()
        try:
            with torch.inference_mode():
                yield
        finally:
            _synchronize(self.model)  # replayed calls return nothing, so GPU work may queue
            self.reference_seconds += time.perf_counter() - start


def _synchronize(model: Any) -> None:
    """Wait for queued GPU work of ``model`` (nothing on the CPU)."""
    device = getattr(model, "device", None)
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def uncached_greedy_generate(
    model: Any,
    prefix: Sequence[int],
    *,
    max_new_tokens: int,
    stop_ids: frozenset[int],
    counters: WorkCounters | None = None,
) -> list[int]:
    """Greedy decoding without a KV cache, as the reference's vanilla baseline runs it.

    Every step feeds the whole sequence so far (``use_cache=False``), computing all logits,
    which is what ``model.generate(..., use_cache=False)`` does. Stops at a stop id (not
    included) or after ``max_new_tokens`` (the reference's cap is 2048 tokens in all).

    Args:
        model: A causal LM.
        prefix: Prompt ids.
        max_new_tokens: Answer tokens at most.
        stop_ids: Ids that end the answer.
        counters: Where to count forward calls and tokens processed (optional).
    """
    ids = [int(i) for i in prefix]
    new: list[int] = []
    with torch.inference_mode():
        while len(new) < max_new_tokens:
            logits = model(input_ids=torch.tensor([ids], device=model.device), use_cache=False)
            if counters is not None:
                counters.forward_calls += 1
                counters.tokens_processed += len(ids)
            token = int(logits.logits[0, -1].argmax())
            if token in stop_ids:
                break
            new.append(token)
            ids.append(token)
    return new
