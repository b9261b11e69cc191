"""TransformersBackend: any local Hugging Face causal LM behind the Backend protocol.

What makes it fast enough for RAIN on a CPU:

* Prefix KV caches (``prefix_cache``). The few most recent prefixes are kept with their
  ``DynamicCache`` and next-token logits. A call whose prefix shares leading token ids with a
  kept one forks it, crops it back to the shared part (the rewind) and feeds only the rest.
* Batching (``walk``, ``proposer``). ``propose`` runs all candidate rows of a request as one
  batch per step, so a request costs about ``length`` forward calls; rows whose tokens agree
  share one cache row (``sample_rows``), so a step feeds each distinct prefix once.
  ``propose_with_rollout`` adds the search's roll-out of the same prefix as one more row of
  that batch. The walked sets' positions are kept (``branch_store``), so expanding or rolling
  out a set later feeds only its last token (while a kept cache covers the set's parent).
* Option scoring (``option_scoring``). ``option_probs`` scores all prompts in one
  right-padded forward after their shared prefix (one prompt: one forward after its kept
  prefix), or, when that feeds fewer tokens, with each prompt continuing its own kept prefix
  (the caches stacked left-padded, explicit position ids).
* Pinned prefixes. ``pin_prefix`` keeps a prefix every call of a run shares (an evaluator's
  instructions and examples) outside the small recent-prefix cache.
* Determinism. Every draw uses a ``torch.Generator`` seeded from the request, on the CPU.
* Memory. Building a backend fixes glibc's mmap threshold (``malloc_threshold``; process-wide,
  once), so the cache buffers a search frees go back to the system instead of piling up in
  the heap arenas of a pooled run's threads. ``RAIN_GUARD_MALLOC_MMAP_THRESHOLD=0`` turns
  that off.

Kept caches are only reused for plain attention caches (``DynamicLayer``); models with other
cache layers (sliding windows, recurrent states) are recomputed from scratch each call.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import torch

from rain_guard.backends.base import Candidate, ProposalRequest, RolloutSpec, WorkCounters
from rain_guard.backends.chat_format import ChatFormat, ChatFormatText
from rain_guard.backends.checks import check_request, check_rollout_temperature
from rain_guard.backends.transformers.cache_ops import fork
from rain_guard.backends.transformers.forward import ModelCalls
from rain_guard.backends.transformers.greedy_memo import GreedyMemo
from rain_guard.backends.transformers.kv_memory import KVMemoryMeter
from rain_guard.backends.transformers.malloc_threshold import fix_mmap_threshold
from rain_guard.backends.transformers.option_scoring import OptionScorer
from rain_guard.backends.transformers.prefix_cache import PrefixCache
from rain_guard.backends.transformers.proposer import Proposer
from rain_guard.backends.transformers.sampling import RolloutSampling, pick
from rain_guard.backends.transformers.walk import Walker
from rain_guard.errors import BackendError, ConfigError


class TransformersBackend(ChatFormatText):
    """The Backend protocol for a local ``AutoModelForCausalLM`` and its tokenizer.

    Args:
        model: A causal LM (put in eval mode here).
        tokenizer: Its tokenizer; its chat template is used when it has one.
        model_name: Name shown in reports (default: the config's ``_name_or_path``).
        num_threads: ``torch.set_num_threads`` value (process-wide); None leaves it alone.
        max_cached_prefixes: Prefix KV caches kept (about 46 KB per token each for
            SmolLM2-135M in fp32); the search, its roll-outs and the evaluator each want one.
            An int >= 0 (else ConfigError); settable later, which drops the oldest at once.
        max_batch: Rows per forward pass in ``option_probs``, to bound memory.
        max_rounds: Sampling passes per ``propose`` request (>= 1); a second pass tops up
            when the first pass's samples repeat each other too often.
        oversample: Rows drawn per wanted candidate. Rows that repeat another's tokens share
            its cache row and cost no model work, so spare rows make a second pass (a
            second walk of ``length`` calls) rare at little cost.
        keep_walked_sets: Keep the walked positions of the sets ``propose`` returns, for the
            last ``max_cached_prefixes`` parents, so a later call continuing a set feeds only
            its last token while a kept cache covers the parent (``branch_store``). Costs a
            set's own positions each (about 0.4 MB for 10 tokens of SmolLM2-135M in fp32).
            Settable later; False drops the kept sets at once.

    Calls are serialised by a lock: one model call at a time, safe to share across threads.

    Attributes:
        reuses_prefix_per_row: True: ``option_probs`` continues each row of a batch on its
            own longest kept prefix when that feeds fewer tokens than the rows' shared one
            (so an evaluator sends rows with different pinned prefixes in one call).
        counters: Work done so far (forward calls, tokens processed, ...).
        kv_memory: Bytes of KV cache held: kept prefixes, pinned prefixes and the peak
            since its ``reset_peak`` (``rain_guard.backends.transformers.kv_memory``).
        chat_format: Text <-> ids, chat prompts and stop ids of the tokenizer
            (``rain_guard.backends.chat_format``).
    """

    reuses_prefix_per_row = True

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_name: str | None = None,
        num_threads: int | None = None,
        max_cached_prefixes: int = 4,
        max_batch: int = 16,
        max_rounds: int = 2,
        oversample: int = 3,
        keep_walked_sets: bool = True,
    ) -> None:
        for name, value in (("max_rounds", max_rounds), ("oversample", oversample)):
            if value < 1:
                raise ConfigError(f"TransformersBackend {name} must be >= 1, got {value}")
        _check_cache_size(max_cached_prefixes)
        fix_mmap_threshold()  # freed cache buffers go back to the system (malloc_threshold)
        if num_threads is not None:
            torch.set_num_threads(int(num_threads))
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_name = model_name or str(
            getattr(model.config, "_name_or_path", "") or "transformers"
        )
        self.counters = WorkCounters()
        self.kv_memory = KVMemoryMeter()
        self.max_batch = max_batch
        self.max_rounds = max_rounds
        self.oversample = oversample
        self._keep_walked_sets = bool(keep_walked_sets)
        self._lock = threading.RLock()
        generation = getattr(model, "generation_config", None)
        eos = (
            getattr(generation, "eos_token_id", None),
            getattr(model.config, "eos_token_id", None),
        )
        self.chat_format = ChatFormat(tokenizer, self.model_name, eos)
        self._stop_ids = self.chat_format.stop_ids
        self._calls = ModelCalls(self.model, self.model_name, self.counters, self.kv_memory)
        self._vocab = self._calls.vocab
        self._prefixes = PrefixCache(self._calls, max_cached_prefixes)
        self._greedy = GreedyMemo(max_cached_prefixes)
        walker = Walker(self._calls, self._stop_ids, self.chat_format.at_boundary)
        pad_id = _first_int(tokenizer.pad_token_id, *sorted(self._stop_ids), 0)
        self._proposer = Proposer(self._prefixes, self._greedy, walker, pad_id)
        self._scorer = OptionScorer(self._prefixes, pad_id)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | None = None,
        *,
        dtype: str = "float32",
        num_threads: int | None = None,
        device: str | None = None,
    ) -> TransformersBackend:
        """Load a model by name or path (see ``rain_guard.models.load_model``) and wrap it.

        Raises:
            ModelNotFoundError: nothing loadable under that name.
            ModelLoadError: found but broken.
        """
        from rain_guard.models.resolve import load_model

        model, tokenizer, name = load_model(name_or_path, dtype=dtype, device=device)
        return cls(model, tokenizer, model_name=name, num_threads=num_threads)

    @property
    def max_cached_prefixes(self) -> int:
        """Recent prefix caches kept (pinned ones apart): memory traded for recompute."""
        return self._prefixes.size

    @max_cached_prefixes.setter
    def max_cached_prefixes(self, value: int) -> None:
        """Change how many are kept; the oldest beyond the new size are dropped now."""
        _check_cache_size(value)
        with self._lock:
            self._greedy.size = value
            self._prefixes.resize(value)

    @property
    def keep_walked_sets(self) -> bool:
        """Whether proposals keep their sets' walked positions (see the class docstring)."""
        return self._keep_walked_sets

    @keep_walked_sets.setter
    def keep_walked_sets(self, value: bool) -> None:
        with self._lock:
            self._keep_walked_sets = bool(value)
            if not value:
                self._prefixes.branches.clear()
                self._prefixes.note_kept()

    # ----------------------------------------------------------------- text <-> ids

    @property
    def context_length(self) -> int:
        """Longest sequence (tokens): the smaller of the config's and the tokenizer's limits."""
        config = self.model.config
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        limits = [
            getattr(text_config, attr, None)
            for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "n_ctx")
        ]
        return self.chat_format.context_length(*limits)

    @property
    def stop_token_ids(self) -> frozenset[int]:
        """EOS ids of the tokenizer, config and generation config, plus end-of-turn tokens."""
        return self.chat_format.stop_ids

    # ----------------------------------------------------------------- protocol calls

    def propose(self, requests: Sequence[ProposalRequest]) -> list[list[Candidate]]:
        """Distinct candidate sets per request: the greedy set first, then top-k samples.

        Sets of one token are simply the most likely tokens (no sampling). Longer sets are
        sampled token by token from the top-``top_k`` tokens at ``temperature``, all rows in
        one batch. A set ends early right after a stop id. ``logprob`` is measured at
        temperature 1 under the top-``top_k`` renormalised distribution for every set, so
        greedy and sampled priors compare fairly; for one-token sets it is the full softmax
        probability renormalised over the top ``top_k`` tokens, the same pool, so sets added
        by later calls (dynamic node addition) get comparable priors.
        """
        with self._lock, torch.inference_mode():
            return [self._propose_one(request)[0] for request in requests]

    def rollout(
        self,
        prefixes: Sequence[Sequence[int]],
        *,
        boundaries: str,
        max_tokens: int,
        seed: int,
        temperature: float = 1.0,
    ) -> list[list[int]]:
        """Sample each prefix on (full distribution at ``temperature``) to the next boundary.

        ``temperature`` 0 is greedy: the most likely token at every step. Stops when the
        decoded text ends with a character of ``boundaries``, after a stop id (included), or
        after ``max_tokens``. A prefix that already ends at a boundary or with a stop id gets
        no tokens. Returns only the new ids.
        """
        check_rollout_temperature(temperature)
        spec = RolloutSampling.seeded(boundaries, max_tokens, temperature, seed)
        with self._lock, torch.inference_mode():
            return [self._proposer.rollout(_check_ids(p, self._vocab), spec) for p in prefixes]

    def propose_with_rollout(
        self,
        request: ProposalRequest,
        *,
        boundaries: str,
        max_tokens: int,
        seed: int,
        temperature: float = 1.0,
    ) -> tuple[list[Candidate], list[int]]:
        """``propose([request])`` and ``rollout([request.prefix], ...)`` in one batched walk.

        The roll-out is one more row of the proposal's batch, drawn with its own generator
        (``seed``) from the full distribution at ``temperature`` as ``rollout`` draws it, so
        its first tokens ride along with the candidates' steps instead of costing calls of
        their own. Results equal the two separate calls' up to batched-arithmetic rounding.
        A greedy roll-out (``temperature`` 0) shares the greedy set's row while they agree.
        """
        check_rollout_temperature(temperature)
        spec = RolloutSampling.seeded(boundaries, max_tokens, temperature, seed)
        with self._lock, torch.inference_mode():
            return self._propose_one(request, spec)

    def propose_with_rollout_many(
        self, requests: Sequence[ProposalRequest], rollouts: Sequence[RolloutSpec]
    ) -> list[tuple[list[Candidate], list[int]]]:
        """``propose_with_rollout`` for several requests on different prefixes, walked together.

        The prefixes are prefilled in one forward call, each continuing its own longest kept
        prefix, and every request's candidate and roll-out rows are then drawn in one batch
        per step (one forward call per step for all of them). Each request draws from its
        own seeds, so its result equals ``propose_with_rollout`` alone up to the rounding of
        batched arithmetic. The parallel leaves of one search, and several searches sharing
        the backend (``rain_guard.backends.batching``), both come through here.
        """
        if len(requests) != len(rollouts):
            raise BackendError(f"{len(requests)} requests but {len(rollouts)} roll-out specs")
        items = self._proposal_items(requests, rollouts)
        with self._lock, torch.inference_mode():
            return self._proposer.walk_many(
                items,
                oversample=self.oversample,
                max_rounds=self.max_rounds,
                keep_sets=self._keep_walked_sets,
            )

    def rollout_many(
        self, prefixes: Sequence[Sequence[int]], rollouts: Sequence[RolloutSpec]
    ) -> list[list[int]]:
        """``rollout`` of several prefixes, each with its own spec (seed), in one batched walk.

        Each result equals ``rollout([prefix], **spec.kwargs())`` alone up to the rounding of
        batched arithmetic.
        """
        if len(prefixes) != len(rollouts):
            raise BackendError(f"{len(prefixes)} prefixes but {len(rollouts)} roll-out specs")
        items = self._rollout_items(prefixes, rollouts)
        with self._lock, torch.inference_mode():
            return self._proposer.rollout_many(items)

    def walk_many(
        self,
        requests: Sequence[ProposalRequest],
        rollouts: Sequence[RolloutSpec],
        prefixes: Sequence[Sequence[int]],
        prefix_rollouts: Sequence[RolloutSpec],
    ) -> tuple[list[tuple[list[Candidate], list[int]]], list[list[int]]]:
        """Proposals with roll-outs and bare roll-outs, walked in one batch: both results.

        ``propose_with_rollout_many(requests, rollouts)`` and ``rollout_many(prefixes,
        prefix_rollouts)`` in one walk. Searches sharing the backend
        (``rain_guard.backends.batching``) send it when some expand a leaf while others only
        roll one out, so that all their rows share each step's forward call. Each result
        equals its own call's up to the rounding of batched arithmetic.
        """
        if len(requests) != len(rollouts) or len(prefixes) != len(prefix_rollouts):
            raise BackendError("walk_many: one roll-out spec per request and per prefix")
        proposals = self._proposal_items(requests, rollouts)
        bare = [(ids, None, spec) for ids, spec in self._rollout_items(prefixes, prefix_rollouts)]
        with self._lock, torch.inference_mode():
            walked = self._proposer.walk_many(
                [*proposals, *bare],
                oversample=self.oversample,
                max_rounds=self.max_rounds,
                keep_sets=self._keep_walked_sets,
            )
        return walked[: len(proposals)], [tokens for _, tokens in walked[len(proposals) :]]

    def _proposal_items(
        self, requests: Sequence[ProposalRequest], rollouts: Sequence[RolloutSpec]
    ) -> list[tuple[tuple[int, ...], ProposalRequest, RolloutSampling]]:
        """Checked ``(ids, request, sampling)`` items (BackendError if one is bad)."""
        items = []
        for req, spec in zip(requests, rollouts, strict=True):
            ids = self._checked_request(req)
            items.append((ids, req, _sampling(spec)))
        return items

    def _rollout_items(
        self, prefixes: Sequence[Sequence[int]], rollouts: Sequence[RolloutSpec]
    ) -> list[tuple[tuple[int, ...], RolloutSampling]]:
        """Checked ``(ids, sampling)`` items (BackendError if one is bad)."""
        return [
            (_check_ids(prefix, self._vocab), _sampling(spec))
            for prefix, spec in zip(prefixes, rollouts, strict=True)
        ]

    def option_probs(
        self, prompts: Sequence[Sequence[int]], option_ids: Sequence[int]
    ) -> list[list[float]]:
        """Full-softmax next-token probability of each option id after each prompt.

        Prompts are scored in right-padded batches of at most ``max_batch`` rows after their
        shared leading ids, which are computed once and kept as a prefix cache; or, when it
        feeds fewer tokens, each prompt after its own longest kept prefix (prompts asked on
        different pinned instructions), still one forward call per batch.
        """
        rows = [_check_ids(p, self._vocab) for p in prompts]
        options = list(_check_ids(option_ids, self._vocab, allow_empty=True))
        out: list[list[float]] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(rows), self.max_batch):
                probs = self._scorer.next_token_probs(rows[start : start + self.max_batch])
                out += probs[:, options].tolist()
        return out

    def generate(
        self, prefix: Sequence[int], *, max_new_tokens: int, seed: int | None
    ) -> list[int]:
        """Vanilla decoding: greedy when ``seed`` is None, else sampling the full softmax.

        Returns the new ids; a stop id ends decoding and is not included.
        """
        ids = _check_ids(prefix, self._vocab)
        if max_new_tokens <= 0:
            return []
        with self._lock, torch.inference_mode():
            generator = None if seed is None else torch.Generator().manual_seed(seed)
            cache, logits = self._prefixes.prefill(ids)
            new: list[int] = []
            while len(new) < max_new_tokens:
                token = pick(logits, generator)
                if token in self._stop_ids:
                    break
                new.append(token)
                if len(new) < max_new_tokens:
                    logits = self._calls.extend(cache, [token])
            return new

    def _propose_one(
        self, req: ProposalRequest, rollout: RolloutSampling | None = None
    ) -> tuple[list[Candidate], list[int]]:
        """Candidates for ``req`` and, with ``rollout``, a roll-out drawn in the same walk."""
        ids = self._checked_request(req)
        return self._proposer.propose(
            ids,
            req,
            rollout,
            oversample=self.oversample,
            max_rounds=self.max_rounds,
            keep_sets=self._keep_walked_sets,
        )

    def _checked_request(self, req: ProposalRequest) -> tuple[int, ...]:
        """The request's prefix ids, after checking its numbers (BackendError if bad)."""
        ids = _check_ids(req.prefix, self._vocab)
        check_request(req)
        return ids

    # ----------------------------------------------------------------- kept caches

    def pin_prefix(self, ids: Sequence[int]) -> None:
        """Keep a cache of ``ids`` until ``clear_cache`` drops it, whatever else is cached.

        For a prefix that calls across a whole run share, such as an evaluator's
        instructions and worked examples: it is computed once per run instead of again
        whenever the recent-prefix cache has let it go. At most ``MAX_PINNED`` are kept
        (the oldest goes first); pinning a kept prefix again costs nothing.
        """
        key = _check_ids(ids, self._vocab)
        with self._lock, torch.inference_mode():
            self._prefixes.pin(key)

    def clear_cache(self, *, keep_pinned: bool = False) -> None:
        """Drop every kept prefix cache (frees their memory); pinned ones too unless asked."""
        with self._lock:
            self._greedy.clear()
            self._prefixes.clear(keep_pinned=keep_pinned)

    # Internals that unit tests reach: the kept prefixes, walked sets, one-row feeds, forks.

    @property
    def _entries(self) -> Any:
        return self._prefixes.entries

    @property
    def _branches(self) -> Any:
        return self._prefixes.branches

    def _note_kept(self) -> None:
        self._prefixes.note_kept()

    def _extend(self, cache: Any, tokens: Sequence[int]) -> torch.Tensor:
        return self._calls.extend(cache, tokens)

    def _fork(self, cache: Any) -> Any:
        return fork(cache)


# --------------------------------------------------------------------- helpers


def _sampling(spec: RolloutSpec) -> RolloutSampling:
    """The seeded sampling of a roll-out spec (BackendError if its temperature is bad)."""
    check_rollout_temperature(spec.temperature)
    return RolloutSampling.seeded(spec.boundaries, spec.max_tokens, spec.temperature, spec.seed)


def _check_ids(ids: Sequence[int], vocab: int, allow_empty: bool = False) -> tuple[int, ...]:
    out = tuple(int(i) for i in ids)
    if not out and not allow_empty:
        raise BackendError("an empty token sequence has no next-token distribution")
    if out and (min(out) < 0 or max(out) >= vocab):
        raise BackendError(
            f"token ids must lie in [0, {vocab}); got min {min(out)}, max {max(out)}"
        )
    return out


def _check_cache_size(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"max_cached_prefixes must be an int >= 0, got {value!r}")


def _first_int(*values: Any) -> int:
    return next(int(v) for v in values if isinstance(v, int))
