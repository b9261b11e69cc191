"""The Backend protocol: the only door between the search and a language model.

The search speaks token ids; a backend turns chat messages into ids, proposes candidate token
sets, rolls a text out to a sentence boundary and scores option labels. Every method takes a
batch so that implementations can run one forward pass for many rows, and every random draw
takes an explicit ``seed`` so that answers do not depend on call order or concurrency.

Optional capabilities, looked up with ``getattr`` so that a minimal backend need not have
them (``TransformersBackend`` has all): ``propose_with_rollout`` (a proposal and its roll-out
in one batch), ``propose_with_rollout_many`` (several proposals on different prefixes, each
with its roll-out, in one batch per step), ``rollout_many`` (roll-outs of several prefixes,
each with its own seed, in one batch per step), ``pin_prefix`` (keep an evaluator's fixed prefix
for the whole run), ``clear_cache`` (drop kept prefix caches between benchmark arms),
``kv_memory`` (cache bytes held) and ``reuses_prefix_per_row`` (``option_probs`` continues
each row of a batch on its own kept prefix, so an evaluator sends rows with different pinned
prefixes in one call).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Candidate:
    """A proposed token set and its log-probability under the (top-k truncated) LM.

    Attributes:
        tokens: Token ids; may be shorter than asked when it ends with a stop id.
        logprob: Sum of the tokens' log-probabilities (nats, <= 0).
    """

    tokens: tuple[int, ...]
    logprob: float


@dataclass(frozen=True)
class ProposalRequest:
    """Propose candidate token sets after ``prefix``.

    Attributes:
        prefix: Full context ids (chat prompt + committed answer + path).
        num_candidates: How many distinct sets to return at most (q).
        length: Tokens per set.
        top_k: Sampling pool per step for sets longer than one token.
        seed: Seed of this request's random draws.
        exclude: Token sets the caller already has (dynamic node addition); never returned.
        temperature: Softmax temperature of the samples (> 0); the greedy set ignores it.
    """

    prefix: tuple[int, ...]
    num_candidates: int
    length: int
    top_k: int
    seed: int
    exclude: frozenset[tuple[int, ...]] = frozenset()
    temperature: float = 1.0


@dataclass
class WorkCounters:
    """Work done by a backend, for cost reports (all counts are cumulative).

    Attributes:
        forward_calls: Model forward passes (one batched pass counts once).
        tokens_processed: Token positions fed through the model (prompt and generated).
        evaluation_prompts: Option-scoring prompts answered.
        evaluation_cache_hits: Evaluations answered from the text cache instead of the model.
    """

    forward_calls: int = 0
    tokens_processed: int = 0
    evaluation_prompts: int = 0
    evaluation_cache_hits: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> dict[str, int]:
        """A plain dict copy, safe to put in metadata."""
        return {
            "forward_calls": self.forward_calls,
            "tokens_processed": self.tokens_processed,
            "evaluation_prompts": self.evaluation_prompts,
            "evaluation_cache_hits": self.evaluation_cache_hits,
            **self.extra,
        }

    def since(self, before: dict[str, int]) -> dict[str, int]:
        """The work done since ``before`` (an earlier ``snapshot()``), counter by counter.

        Counters first seen after ``before`` (a backend adds ``extra`` keys lazily) count
        from 0.
        """
        return {k: v - before.get(k, 0) for k, v in self.snapshot().items()}


@runtime_checkable
class Backend(Protocol):
    """What RAIN needs from a language model."""

    model_name: str
    counters: WorkCounters

    @property
    def context_length(self) -> int:
        """Longest sequence (tokens) the model accepts."""

    @property
    def stop_token_ids(self) -> frozenset[int]:
        """Ids that end an answer (EOS and end-of-turn tokens)."""

    def tokenize(self, text: str) -> list[int]:
        """Ids of ``text`` without special tokens."""

    def detokenize(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` with special tokens dropped."""

    def chat_prompt_ids(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        """Ids of ``(role, content)`` messages with the generation prompt appended."""

    def propose(self, requests: Sequence[ProposalRequest]) -> list[list[Candidate]]:
        """Distinct candidate sets per request: the greedy one first, then top-k samples."""

    def rollout(
        self,
        prefixes: Sequence[Sequence[int]],
        *,
        boundaries: str,
        max_tokens: int,
        seed: int,
        temperature: float = 1.0,
    ) -> list[list[int]]:
        """Sample a continuation of each prefix up to a boundary, a stop id or ``max_tokens``.

        ``temperature`` 0 takes the most likely token at every step (a greedy roll-out).
        Returns only the new ids (possibly none).
        """

    def option_probs(
        self, prompts: Sequence[Sequence[int]], option_ids: Sequence[int]
    ) -> list[list[float]]:
        """Next-token probability of each option id after each prompt (full softmax)."""

    def generate(
        self, prefix: Sequence[int], *, max_new_tokens: int, seed: int | None
    ) -> list[int]:
        """Vanilla decoding (greedy when ``seed`` is None): new ids, stopping at a stop id."""


@dataclass(frozen=True)
class RolloutSpec:
    """How to roll a prefix out: to a character of ``boundaries``, a stop id or ``max_tokens``.

    Attributes:
        boundaries: Characters that end the roll-out (sentence boundaries).
        max_tokens: Longest roll-out in tokens (0: none).
        seed: Seed of the roll-out's own draws.
        temperature: Sampling temperature of the full softmax; 0 is greedy.
    """

    boundaries: str
    max_tokens: int
    seed: int
    temperature: float = 1.0

    def kwargs(self) -> dict:
        """The keyword arguments of ``Backend.rollout`` and ``propose_with_rollout``."""
        return rollout_kwargs(self.boundaries, self.max_tokens, self.seed, self.temperature)


def propose_and_roll_out_many(
    backend: Backend, requests: Sequence[ProposalRequest], rollouts: Sequence[RolloutSpec]
) -> list[tuple[list[Candidate], list[int]]]:
    """Candidates and a roll-out for each request, in as few batched model calls as possible.

    Request i's roll-out continues its own prefix with ``rollouts[i]``. A backend with
    ``propose_with_rollout_many`` (``TransformersBackend``) walks every request's rows in
    one batch per step, each row on its own prefix; any other backend gets one
    ``propose_and_roll_out`` per request. Either way each result is what the request
    would get alone (its draws come from its own seeds).
    """
    if len(requests) != len(rollouts):
        raise ValueError(f"{len(requests)} requests but {len(rollouts)} roll-out specs")
    if not requests:
        return []
    batched = getattr(backend, "propose_with_rollout_many", None)
    if batched is not None and len(requests) > 1:
        return batched(list(requests), list(rollouts))
    return [
        propose_and_roll_out(backend, request, **spec.kwargs())
        for request, spec in zip(requests, rollouts, strict=True)
    ]


def roll_out_many(
    backend: Backend, prefixes: Sequence[Sequence[int]], rollouts: Sequence[RolloutSpec]
) -> list[list[int]]:
    """A roll-out of each prefix with its own spec, in as few batched model calls as possible.

    A backend with ``rollout_many`` walks them in one batch (one call per step); any other
    backend gets one ``rollout`` call per prefix. Either way each roll-out is what its
    prefix gets alone.
    """
    if len(prefixes) != len(rollouts):
        raise ValueError(f"{len(prefixes)} prefixes but {len(rollouts)} roll-out specs")
    batched = getattr(backend, "rollout_many", None)
    if batched is not None and len(prefixes) > 1:
        return batched(list(prefixes), list(rollouts))
    return [
        backend.rollout([prefix], **spec.kwargs())[0]
        for prefix, spec in zip(prefixes, rollouts, strict=True)
    ]


def propose_and_roll_out(
    backend: Backend,
    request: ProposalRequest,
    *,
    boundaries: str,
    max_tokens: int,
    seed: int,
    temperature: float = 1.0,
) -> tuple[list[Candidate], list[int]]:
    """Candidates for ``request`` and a roll-out of its prefix, fused where the backend can.

    Both draw what ``propose([request])`` and ``rollout([request.prefix], ...)`` draw. A
    backend with ``propose_with_rollout`` (``TransformersBackend``) draws the roll-out as one
    more row of the proposal's batch, so it costs fewer model calls; any other backend gets
    the two calls.
    """
    settings = rollout_kwargs(boundaries, max_tokens, seed, temperature)
    fused = getattr(backend, "propose_with_rollout", None)
    if fused is not None:
        return fused(request, **settings)
    candidates = backend.propose([request])[0]
    return candidates, backend.rollout([request.prefix], **settings)[0]


def rollout_kwargs(boundaries: str, max_tokens: int, seed: int, temperature: float) -> dict:
    """A roll-out's keyword arguments, as ``rollout`` and ``propose_with_rollout`` take them."""
    return {
        "boundaries": boundaries,
        "max_tokens": max_tokens,
        "seed": seed,
        "temperature": temperature,
    }
