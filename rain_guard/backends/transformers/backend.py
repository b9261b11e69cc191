"""TransformersBackend: any local Hugging Face causal LM behind the Backend protocol.

What makes it fast enough for RAIN on a CPU:

* Prefix KV caches. The few most recent prefixes are kept with their ``DynamicCache`` and
  next-token logits. A call whose prefix shares leading token ids with a kept one reuses it:
  the cache is forked (cheap: layer objects are copied, tensors shared, since updates
  concatenate instead of writing in place), cropped back to the shared part (the rewind) and
  fed only the rest. Sharing is decided on token ids, so a cache is never fed a mismatch.
* Batching. ``propose`` runs all candidate rows of a request as one batch per step, so a request
  costs about ``length`` forward calls; rows whose tokens agree share one cache row
  (``sample_rows``), so a step feeds each distinct prefix once. ``propose_with_rollout`` adds
  the search's roll-out of the same prefix as one more row of that batch. The walked sets'
  positions are kept (``branch_store``), so expanding or rolling out a set later feeds only
  its last token (while a kept cache covers the set's parent). ``option_probs`` scores all
  prompts in one right-padded forward after their shared prefix (one prompt: one forward
  after its kept prefix), or, when that feeds fewer tokens, with each prompt continuing its
  own kept prefix (the caches stacked left-padded, explicit position ids).
* Pinned prefixes. ``pin_prefix`` keeps a prefix every call of a run shares (an evaluator's
  instructions and examples) outside the small recent-prefix cache.
* Determinism. Every draw uses a ``torch.Generator`` seeded from the request, on the CPU.

Kept caches are only reused for plain attention caches (``DynamicLayer``); models with other
cache layers (sliding windows, recurrent states) are recomputed from scratch each call.
"""

from __future__ import annotations

import copy
import inspect
import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from rain_guard.backends.base import Candidate, ProposalRequest, WorkCounters
from rain_guard.backends.transformers.branch_store import Branch, BranchStore, common_length
from rain_guard.backends.transformers.greedy_memo import TOP, GreedyMemo, GreedyStep
from rain_guard.backends.transformers.kv_memory import KVMemoryMeter
from rain_guard.backends.transformers.sample_rows import SampleRow, distinct_sets, prune, regroup
from rain_guard.errors import BackendError, ConfigError, PromptError

logger = logging.getLogger(__name__)

# Special tokens that end a turn in common chat formats; added to the stop ids when present.
END_OF_TURN_TOKENS = (
    "<|im_end|>",  # ChatML (SmolLM2, Qwen)
    "<|eot_id|>",  # Llama 3
    "<|end_of_text|>",  # Llama 3 base
    "<end_of_turn>",  # Gemma
    "<|end|>",  # Phi-3
    "<|endoftext|>",  # GPT-2 family, SmolLM2
)
FALLBACK_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}
DEFAULT_CONTEXT_LENGTH = 2048  # tokens, when neither config nor tokenizer says
_TAIL_TOKENS = 8  # prefix tokens decoded with a continuation to find its last character
MAX_PINNED = 4  # prefixes kept by pin_prefix (one per evaluator option order in practice)


@dataclass(frozen=True)
class _Rollout:
    """What a roll-out row samples: full softmax at ``temperature`` (0: argmax) to a boundary."""

    boundaries: str
    max_tokens: int
    temperature: float
    generator: torch.Generator  # the roll-out's own draws, apart from the candidates'


@dataclass
class _Entry:
    """A kept prefix: its ids, a cache covering exactly them, and the next-token logits."""

    ids: tuple[int, ...]
    cache: Any
    logits: torch.Tensor  # (vocab,) float32


_Walked = tuple[Any, int, torch.Tensor]  # walked sets' own positions (a cache), its row, logits


class TransformersBackend:
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
        max_rounds: Sampling rounds per ``propose`` request; a second round tops up when
            the first round's samples repeat each other too often.
        oversample: Rows drawn per wanted candidate. Rows that repeat another's tokens share
            its cache row and cost no model work, so spare rows make a second round (a
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
            since its ``reset_peak`` (``rain_guard.backends.kv_memory``).
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
        if num_threads is not None:
            torch.set_num_threads(int(num_threads))
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_name = model_name or str(
            getattr(model.config, "_name_or_path", "") or "transformers"
        )
        self.counters = WorkCounters()
        self._max_cached_prefixes = max_cached_prefixes
        self.max_batch = max_batch
        self.max_rounds = max_rounds
        self.oversample = oversample
        self._lock = threading.RLock()
        self._entries: OrderedDict[tuple[int, ...], _Entry] = OrderedDict()
        self._pinned: OrderedDict[tuple[int, ...], _Entry] = OrderedDict()
        self._greedy = GreedyMemo(max_cached_prefixes)
        self._branches = BranchStore(max_cached_prefixes)
        self._keep_walked_sets = bool(keep_walked_sets)
        self.kv_memory = KVMemoryMeter()
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._has_logits_to_keep = "logits_to_keep" in params
        self._vocab = int(model.get_input_embeddings().num_embeddings)
        self._device = model.device
        self._specials = _special_tokens(tokenizer)
        self._special_re = _alternation(self._specials)
        self._stop_ids = _stop_ids(model, tokenizer, self._specials)
        self._pad_id = _first_int(tokenizer.pad_token_id, *sorted(self._stop_ids), 0)

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
        return self._max_cached_prefixes

    @max_cached_prefixes.setter
    def max_cached_prefixes(self, value: int) -> None:
        """Change how many are kept; the oldest beyond the new size are dropped now."""
        _check_cache_size(value)
        with self._lock:
            self._max_cached_prefixes = value
            self._greedy.size = value
            self._branches.size = value
            self._branches.trim()
            while len(self._entries) > value:
                self._entries.popitem(last=False)
            self._note_kept()

    @property
    def keep_walked_sets(self) -> bool:
        """Whether proposals keep their sets' walked positions (see the class docstring)."""
        return self._keep_walked_sets

    @keep_walked_sets.setter
    def keep_walked_sets(self, value: bool) -> None:
        with self._lock:
            self._keep_walked_sets = bool(value)
            if not value:
                self._branches.clear()
                self._note_kept()

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
        limits.append(getattr(self.tokenizer, "model_max_length", None))
        sane = [int(v) for v in limits if isinstance(v, int) and 0 < v < 10_000_000]
        return min(sane) if sane else DEFAULT_CONTEXT_LENGTH

    @property
    def stop_token_ids(self) -> frozenset[int]:
        """EOS ids of the tokenizer, config and generation config, plus end-of-turn tokens."""
        return self._stop_ids

    def tokenize(self, text: str) -> list[int]:
        """Ids of ``text``; text that looks like a special token is split like plain text."""
        return list(
            self.tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)
        )

    def detokenize(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` with special tokens dropped and spacing kept as generated."""
        return self.tokenizer.decode(
            [int(i) for i in ids], skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def chat_prompt_ids(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        """Ids of the messages in the model's chat format, with the generation prompt appended.

        Special-token look-alikes inside message contents (e.g. ``"<|im_start|>"`` typed by a
        user) are tokenised as plain text, so a message cannot forge a turn. Without a chat
        template the prompt is "System: ...", "User: ..." lines ending in "Assistant:", after
        the BOS token if the tokenizer normally adds one.

        Raises:
            PromptError: no messages, a malformed message, or the template rejects them.
        """
        pairs = _check_messages(messages)
        if not getattr(self.tokenizer, "chat_template", None):
            return self._fallback_chat_ids(pairs)
        contents = [content for _, content in pairs]
        if self._special_re is None or not any(self._special_re.search(c) for c in contents):
            text = self._render(pairs)
            return list(self.tokenizer.encode(text, add_special_tokens=False))
        return self._encode_protected(pairs)

    def _render(self, pairs: list[tuple[str, str]]) -> str:
        try:
            return self.tokenizer.apply_chat_template(
                [{"role": role, "content": content} for role, content in pairs],
                add_generation_prompt=True,
                tokenize=False,
            )
        except Exception as exc:  # jinja errors: e.g. roles must alternate
            raise PromptError(
                f"the chat template of {self.model_name} rejected the messages: {exc}"
            ) from exc

    def _fallback_chat_ids(self, pairs: list[tuple[str, str]]) -> list[int]:
        lines = [
            f"{FALLBACK_ROLES.get(role, role.capitalize())}: {content}\n" for role, content in pairs
        ]
        ids = self.tokenize("".join(lines) + "Assistant:")
        bos = self.tokenizer.bos_token_id
        adds_bos = bos is not None and self.tokenizer.encode("a")[:1] == [bos]
        return [bos, *ids] if adds_bos else ids

    def _encode_protected(self, pairs: list[tuple[str, str]]) -> list[int]:
        """Chat ids where the template's special tokens are special and contents are text.

        The template is rendered with a unique marker in place of each content, so its own
        special tokens are found without any guessing; the contents are then put back as
        plain text (verbatim, even if the template would have trimmed them). The tokenizer
        itself splits text at special tokens before anything else, so encoding the text runs
        between the template's specials one by one gives the ids of the whole text, except
        that look-alikes inside contents stay plain text.
        """
        marks = {f"RAINGUARDMSG{uuid.uuid4().hex}X{i}": c for i, (_, c) in enumerate(pairs)}
        text = self._render([(role, mark) for (role, _), mark in zip(pairs, marks, strict=True)])
        ids: list[int] = []
        run = ""  # plain text waiting to be encoded
        for chunk in re.split("(" + "|".join(marks) + ")", text):
            if chunk in marks:
                run += marks[chunk]
                continue
            cursor = 0
            for match in self._special_re.finditer(chunk):
                run += chunk[cursor : match.start()]
                ids += self.tokenize(run) if run else []
                ids.append(self._specials[match.group()])
                run, cursor = "", match.end()
            run += chunk[cursor:]
        return ids + (self.tokenize(run) if run else [])

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
        _check_rollout_temperature(temperature)
        spec = _Rollout(boundaries, max_tokens, temperature, torch.Generator().manual_seed(seed))
        with self._lock, torch.inference_mode():
            return [self._rollout_one(_check_ids(p, self._vocab), spec) for p in prefixes]

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
        _check_rollout_temperature(temperature)
        spec = _Rollout(boundaries, max_tokens, temperature, torch.Generator().manual_seed(seed))
        with self._lock, torch.inference_mode():
            return self._propose_one(request, spec)

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
                probs = self._next_token_probs(rows[start : start + self.max_batch])
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
            cache, logits = self._prefill(ids)
            new: list[int] = []
            while len(new) < max_new_tokens:
                token = _pick(logits, generator)
                if token in self._stop_ids:
                    break
                new.append(token)
                if len(new) < max_new_tokens:
                    logits = self._extend(cache, [token])
            return new

    # ----------------------------------------------------------------- propose

    def _propose_one(
        self, req: ProposalRequest, rollout: _Rollout | None = None
    ) -> tuple[list[Candidate], list[int]]:
        """Candidates for ``req`` and, with ``rollout``, a roll-out drawn in the same walk."""
        ids = _check_ids(req.prefix, self._vocab)
        if req.num_candidates < 1 or req.length < 1 or req.top_k < 1:
            raise BackendError(f"num_candidates, length and top_k must be >= 1, got {req}")
        _check_temperature(req.temperature)
        if _greedy_only(req, rollout):
            return self._greedy_walk(ids, req, rollout)
        cache, logits = self._prefill(ids)
        walked: dict[tuple[int, ...], _Walked] | None = None
        if self._keep_walked_sets and _is_plain(cache) and self._branches.size > 0:
            walked = {}
        generator = torch.Generator().manual_seed(req.seed)
        need = req.num_candidates + len(req.exclude)
        found: dict[tuple[int, ...], float] = {}
        rows: list[SampleRow] = []
        if req.length == 1:
            candidates = self._top_tokens(logits, req)
        else:
            count = self.oversample * req.num_candidates + len(req.exclude)
            rows = [SampleRow("set", req.length, greedy=i == 0) for i in range(count)]
        roll = self._rollout_row(ids, rollout)
        self._walk(cache, logits, ids, [*rows, *roll], req, generator, rollout, need, walked)
        distinct_sets(rows, req.exclude, found)
        for _ in range(self.max_rounds - 1 if rows else 0):
            missing = req.num_candidates - len(found)
            if missing <= 0:
                break
            rows = [SampleRow("set", req.length) for _ in range(self.oversample * missing)]
            cache, logits = self._prefill(ids)  # an exact hit: a fresh fork, no forward
            self._walk(cache, logits, ids, rows, req, generator, None, need, walked)
            distinct_sets(rows, req.exclude, found)
        if req.length > 1:
            candidates = [Candidate(t, lp) for t, lp in list(found.items())[: req.num_candidates]]
        if walked:
            self._keep_branches(ids, walked, candidates)
        return candidates, (roll[0].tokens if roll else [])

    def _keep_branches(
        self,
        ids: tuple[int, ...],
        walked: dict[tuple[int, ...], _Walked],
        candidates: list[Candidate],
    ) -> None:
        """Keep the walked positions of the returned sets (the ones a search can expand)."""
        wanted = {ids + c.tokens[:-1] for c in candidates}
        branches = [
            Branch(key, len(ids), tail, row, logits)
            for key, (tail, row, logits) in walked.items()
            if key in wanted
        ]
        self._branches.add(ids, branches)
        self._note_kept()

    def _greedy_walk(
        self, ids: tuple[int, ...], req: ProposalRequest | None, rollout: _Rollout | None
    ) -> tuple[list[Candidate], list[int]]:
        """The greedy set of ``req`` and a greedy roll-out, as one greedy run of one row.

        Both are the same greedy continuation, cut at different points (the set after
        ``req.length`` tokens or a stop id, the roll-out at a boundary). Steps the memo knows
        (an earlier greedy run through ``ids``) cost no forward call; the rest are decoded
        one call each and remembered, with the cache of the whole run.
        """
        known = self._greedy.known(ids)
        steps: list[GreedyStep] = []
        set_row = SampleRow("set", req.length) if req is not None else None
        roll = self._rollout_row(ids, rollout)
        cache = logits = None
        while (set_row is not None and not set_row.done) or (roll and not roll[0].done):
            if len(steps) < len(known):
                step = known[len(steps)]
            else:
                if cache is None:
                    cache, logits = self._prefill(ids + tuple(s.token for s in steps))
                else:
                    logits = self._extend(cache, [steps[-1].token])
                top, index = logits.topk(min(TOP, self._vocab))  # index[0]: the argmax
                step = GreedyStep(int(index[0]), top.float().cpu())
            steps.append(step)
            for row in (set_row, *roll):
                if row is not None and not row.done:
                    row.tokens.append(step.token)
                    row.done = self._row_done(row, ids, rollout)
        self._keep_greedy(ids, steps, cache, logits)
        candidates = []
        if set_row is not None:
            prior = sum(s.logprob(req.top_k) for s in steps[: len(set_row.tokens)])
            candidates = [Candidate(tuple(set_row.tokens), prior)]
        return candidates, (roll[0].tokens if roll else [])

    def _keep_greedy(
        self, ids: tuple[int, ...], steps: list[GreedyStep], cache: Any, logits: Any
    ) -> None:
        """Remember a greedy run, and its cache (which lacks the last token) as a prefix.

        A run taken wholly from the memo (no ``cache``) adds nothing to it.
        """
        if cache is None:
            return
        self._greedy.store(ids, steps)
        if _is_plain(cache):
            self._remember(_Entry(ids + tuple(s.token for s in steps[:-1]), cache, logits))

    def _top_tokens(self, logits: torch.Tensor, req: ProposalRequest) -> list[Candidate]:
        """One-token sets: the most likely tokens not excluded, best first."""
        logp = torch.log_softmax(logits, dim=-1)
        log_pool = torch.logsumexp(logp.topk(min(req.top_k, self._vocab)).values, dim=0)
        wanted = min(self._vocab, req.num_candidates + len(req.exclude))
        out = []
        for token in logp.topk(wanted).indices.tolist():
            if (token,) not in req.exclude:
                out.append(Candidate((token,), min(0.0, float(logp[token] - log_pool))))
            if len(out) == req.num_candidates:
                break
        return out

    def _rollout_row(self, ids: tuple[int, ...], rollout: _Rollout | None) -> list[SampleRow]:
        """The roll-out's row, or none when there is nothing to roll out."""
        if rollout is None or rollout.max_tokens <= 0:
            return []
        if self._at_boundary(ids, [], rollout.boundaries):
            return []
        return [SampleRow("rollout", rollout.max_tokens)]

    def _walk(
        self,
        cache: Any,
        first_logits: torch.Tensor,
        ids: tuple[int, ...],
        rows: list[SampleRow],
        req: ProposalRequest | None,
        generator: torch.Generator | None,
        rollout: _Rollout | None,
        need: int,
        walked: dict[tuple[int, ...], _Walked] | None = None,
    ) -> None:
        """Draw every row to its end, one batched forward call per step.

        ``cache`` (one row, consumed) covers ``ids`` and ``first_logits`` follow it. Set rows
        draw from ``req``'s top-k with ``generator``, the roll-out row as ``rollout`` says. Rows
        with equal tokens share a cache row (``sample_rows``); set rows beyond the first
        ``need`` distinct ones are dropped. Each set that reaches its length is added to
        ``walked`` (when given) with its own positions, before its cache row is let go.
        """
        logits = first_logits.unsqueeze(0)  # (cache rows, vocab)
        while any(row.live for row in rows):
            live = [row for row in rows if row.live]
            self._draw_sets([r for r in live if r.kind == "set"], logits, req, generator)
            for row in live:
                if row.kind == "rollout":
                    row.tokens.append(_draw_rollout(logits[row.owner], rollout))
                row.done = self._row_done(row, ids, rollout)
            if walked is not None:
                self._take_walked(live, cache, logits, ids, walked)
            prune(rows, need)
            if not any(row.live for row in rows):
                return
            parents, tokens = regroup(rows)
            if parents != list(range(logits.shape[0])):
                cache.batch_select_indices(torch.tensor(parents, device=self._device))
            logits = self._step_rows(cache, tokens)

    def _take_walked(
        self,
        rows: list[SampleRow],
        cache: Any,
        logits: torch.Tensor,
        ids: tuple[int, ...],
        walked: dict[tuple[int, ...], _Walked],
    ) -> None:
        """Copy out the positions of the sets that just reached their length (but the last token).

        Sets ending in a stop id are left out: nothing expands them. One copy per layer holds
        every such set of this step, one row each, and only their own positions, so the
        batch they come from is freed when the walk ends.
        """
        owners: dict[tuple[int, ...], int] = {}
        for row in rows:
            if row.kind != "set" or len(row.tokens) != row.limit or row.limit < 2:
                continue
            key = ids + tuple(row.tokens[:-1])
            if key not in walked and row.tokens[-1] not in self._stop_ids:
                owners.setdefault(key, row.owner)
        if not owners or cache.get_seq_length() != len(next(iter(owners))):
            return  # (the length check cannot fail while set rows step together)
        index = torch.tensor(list(owners.values()), device=self._device)
        tail = self._new_cache()
        for i, layer in enumerate(cache.layers):
            keys = layer.keys[:, :, len(ids) :].index_select(0, index)
            tail.update(keys, layer.values[:, :, len(ids) :].index_select(0, index), i)
        for row, (key, owner) in enumerate(owners.items()):
            walked[key] = (tail, row, logits[owner].clone())

    def _draw_sets(
        self,
        rows: list[SampleRow],
        logits: torch.Tensor,
        req: ProposalRequest | None,
        generator: torch.Generator | None,
    ) -> None:
        """One top-k draw per set row from its cache row's logits (the greedy row: argmax).

        The log-probability is taken at temperature 1 under the top-``top_k`` renormalised
        distribution, so greedy and sampled priors compare fairly.
        """
        if not rows or req is None:
            return
        k = min(req.top_k, self._vocab)
        values, indices = logits.topk(k, dim=-1)  # (cache rows, k), sorted
        owners = torch.tensor([row.owner for row in rows])
        values, indices = values.cpu()[owners], indices.cpu()[owners]
        logp = torch.log_softmax(values, dim=-1)
        picks = torch.multinomial(
            torch.softmax(values / req.temperature, dim=-1), 1, generator=generator
        )
        for j, row in enumerate(rows):
            if row.greedy:
                picks[j, 0] = 0  # column 0 is the argmax
        tokens = indices.gather(1, picks).squeeze(1).tolist()
        step_logp = logp.gather(1, picks).squeeze(1).tolist()
        for row, token, lp in zip(rows, tokens, step_logp, strict=True):
            row.tokens.append(token)
            row.logprob += lp

    def _row_done(self, row: SampleRow, ids: tuple[int, ...], rollout: _Rollout | None) -> bool:
        if len(row.tokens) >= row.limit:
            return True
        if row.kind == "rollout":
            return self._at_boundary(ids, row.tokens, rollout.boundaries)
        return row.tokens[-1] in self._stop_ids

    # ----------------------------------------------------------------- rollout

    def _rollout_one(self, ids: tuple[int, ...], rollout: _Rollout) -> list[int]:
        if rollout.temperature == 0:
            return self._greedy_walk(ids, None, rollout)[1]
        roll = self._rollout_row(ids, rollout)
        if not roll:
            return []
        cache, logits = self._prefill(ids)
        self._walk(cache, logits, ids, roll, None, None, rollout, need=0)
        return roll[0].tokens

    def _at_boundary(self, ids: tuple[int, ...], new: list[int], boundaries: str) -> bool:
        """True after a stop id or when the text of the prefix tail + ``new`` ends a sentence."""
        last = new[-1] if new else (ids[-1] if ids else None)
        if last in self._stop_ids:
            return True
        text = self.detokenize([*ids[-_TAIL_TOKENS:], *new])
        return bool(text) and text[-1] in boundaries

    # ----------------------------------------------------------------- option scoring

    def _next_token_probs(self, rows: list[tuple[int, ...]]) -> torch.Tensor:
        """(rows, vocab) next-token probabilities: shared prefix once, suffixes right-padded.

        A single row is one prefill (its kept prefix reused), not a prefix call plus a
        suffix call.
        """
        if len(rows) == 1:
            _, logits = self._prefill(rows[0])
            return torch.softmax(logits, dim=-1).unsqueeze(0).cpu()
        starts = self._own_starts(rows)
        if starts is not None:
            return self._probs_on_own_prefixes(rows, starts)
        common = min(common_length(rows), min(len(r) for r in rows) - 1)
        if common > 0:
            cache, _ = self._prefill(rows[0][:common])
        else:
            cache = self._new_cache()
        cache.batch_repeat_interleave(len(rows))
        suffixes = [r[common:] for r in rows]
        held = torch.ones((len(rows), common), dtype=torch.long)
        return torch.softmax(self._last_logits(suffixes, cache, held), dim=-1).cpu()

    def _own_starts(self, rows: list[tuple[int, ...]]) -> list[tuple[_Entry | None, int]] | None:
        """Each row's longest kept prefix and its usable length, or None.

        None unless continuing every row from its own kept prefix feeds fewer tokens than
        computing the prefix all rows share once. Rows whose long prefixes differ early
        (an evaluation prompt asked in two option orders, each order's instructions pinned)
        share little, so the shared-prefix batch would re-feed what is already cached.
        """
        common = min(common_length(rows), min(len(r) for r in rows) - 1)
        starts = []
        for row in rows:
            entry, matched = self._best_entry(row)
            starts.append((entry, min(matched, len(row) - 1)))  # the last position is fed
        best = max(keep for _, keep in starts)
        shared = common - min(common, best) + sum(len(r) - common for r in rows)
        own = sum(len(r) - keep for r, (_, keep) in zip(rows, starts, strict=True))
        return starts if own < shared else None

    def _probs_on_own_prefixes(
        self, rows: list[tuple[int, ...]], starts: list[tuple[_Entry | None, int]]
    ) -> torch.Tensor:
        """(rows, vocab) next-token probabilities, one forward call, each row on its own prefix.

        The rows' caches are stacked left-padded to the longest (padding masked out), the
        rest of every row is fed right-padded with explicit position ids (left padding is
        wrong without them), and each row's cache is kept as a single-row call keeps it.
        """
        caches = [
            self._cropped(e, keep) if e is not None and keep > 0 else None for e, keep in starts
        ]
        keeps = [keep if c is not None else 0 for c, (_, keep) in zip(caches, starts, strict=True)]
        for keep in keeps:
            self._count_reuse(keep)
        held = max(keeps)
        batch = self._stacked(caches, keeps, held)
        suffixes = [r[keep:] for r, keep in zip(rows, keeps, strict=True)]
        width = max(len(s) for s in suffixes)
        mask = torch.zeros((len(rows), held), dtype=torch.long)
        positions = torch.zeros((len(rows), width), dtype=torch.long)
        for i, keep in enumerate(keeps):
            mask[i, held - keep :] = 1
            positions[i] = torch.arange(keep, keep + width)
        picked = self._last_logits(suffixes, batch, mask, positions)
        for i, row in enumerate(rows):
            cache = self._row_of(batch, i, held - keeps[i], held + len(suffixes[i]))
            self._remember(_Entry(row, cache, picked[i]))
        return torch.softmax(picked, dim=-1).cpu()

    def _last_logits(
        self,
        suffixes: list[tuple[int, ...]],
        cache: Any,
        held: torch.Tensor,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Feed ``suffixes`` right-padded after ``cache``; (rows, vocab) logits at each row's end.

        ``held`` is the (rows, cached positions) mask of the cache's real positions; the
        attention mask is left out when nothing is masked, so an unpadded batch runs as
        an unmasked one. Only the distinct last columns are returned by the model.
        """
        width = max(len(s) for s in suffixes)
        input_ids = torch.full((len(suffixes), width), self._pad_id, dtype=torch.long)
        fed = torch.zeros((len(suffixes), width), dtype=torch.long)
        for i, suffix in enumerate(suffixes):
            input_ids[i, : len(suffix)] = torch.tensor(suffix)
            fed[i, : len(suffix)] = 1
        mask = torch.cat([held, fed], dim=1)
        last = [len(s) - 1 for s in suffixes]
        columns = sorted(set(last))
        logits = self._forward(
            input_ids,
            cache,
            None if bool(mask.all()) else mask,
            keep=torch.tensor(columns, device=self._device),
            positions=positions,
        )
        return logits[torch.arange(len(suffixes)), [columns.index(n) for n in last]]

    def _stacked(self, caches: list[Any], keeps: list[int], held: int) -> Any:
        """One batched cache of ``held`` positions; row i ends with ``caches[i]``.

        The positions before a row's own ``keeps[i]`` are zeros (masked out by the caller); a
        row without a cache (None) is all zeros. One allocation and one copy per layer.
        """
        layers = next(c for c in caches if c is not None).layers
        batch = self._new_cache()
        for index, like in enumerate(layers):
            keys = like.keys.new_zeros(_batch_shape(like.keys, len(caches), held))
            values = like.values.new_zeros(_batch_shape(like.values, len(caches), held))
            for row, (cache, keep) in enumerate(zip(caches, keeps, strict=True)):
                if cache is not None:
                    keys[row, :, held - keep :] = cache.layers[index].keys[0]
                    values[row, :, held - keep :] = cache.layers[index].values[0]
            batch.update(keys, values, index)
        return batch

    def _row_of(self, batch: Any, row: int, start: int, end: int) -> Any:
        """A single-row cache of positions ``start:end`` of one row of a batched cache."""
        cache = self._new_cache()
        for index, layer in enumerate(batch.layers):
            keys = layer.keys[row : row + 1, :, start:end]
            cache.update(keys, layer.values[row : row + 1, :, start:end], index)
        return cache

    # ----------------------------------------------------------------- KV caches

    def _prefill(self, ids: tuple[int, ...]) -> tuple[Any, torch.Tensor]:
        """A private cache covering ``ids`` (the caller may extend it) and the logits after.

        Reuses the kept prefix sharing the most leading ids: fork it, crop it back to the
        shared part (at most ``len(ids) - 1`` so the last position yields fresh logits) and
        feed only the rest. The result is kept; prefixes it extends are dropped. Caches
        other than plain attention ones are neither kept nor forked.
        """
        entry, common = self._best_entry(ids)
        if entry is not None and common == len(ids) == len(entry.ids):
            if entry.ids in self._entries:
                self._entries.move_to_end(entry.ids)
            self._count_reuse(common)
            return self._fork(entry.cache), entry.logits
        keep = min(common, len(ids) - 1)
        cache = self._cropped(entry, keep) if entry is not None and keep > 0 else None
        if cache is None:
            cache, keep = self._new_cache(), 0
        self._count_reuse(keep)
        logits = self._extend(cache, ids[keep:])
        if not _is_plain(cache):
            return cache, logits  # may update in place: never keep or fork it
        self._remember(_Entry(ids, cache, logits))
        return self._fork(cache), logits

    def _best_entry(self, ids: tuple[int, ...]) -> tuple[_Entry | None, int]:
        """The kept prefix sharing the most leading ids, and how many.

        Most recent first wins ties. A walked set that continues further wins if a kept
        cache covers its parent: that cache, cropped to the parent, takes the set's
        positions (``branch_store``).
        """
        best, best_len = None, 0
        for entry in [*reversed(self._entries.values()), *self._pinned.values()]:
            common = common_length([entry.ids, ids])
            if common > best_len:
                best, best_len = entry, common
        branch, common = self._branches.best(ids)
        if branch is None or common <= best_len or best_len < branch.parent:
            return best, best_len
        base = self._cropped(best, branch.parent)
        if base is None:
            return best, best_len
        return _Entry(branch.ids, branch.on(base), branch.logits), common

    def _cropped(self, entry: _Entry, keep: int) -> Any | None:
        """A fork of ``entry``'s cache holding its first ``keep`` positions, or None."""
        cache = self._fork(entry.cache)
        current = cache.get_seq_length()
        try:
            if current > keep:
                cache.crop(-(current - keep))  # transformers 5.24 accepts only n <= 0
        except (ValueError, NotImplementedError, RuntimeError) as exc:
            logger.debug("cache crop failed (%s); recomputing the prefix", exc)
            return None
        return cache if cache.get_seq_length() == keep else None

    def _remember(self, entry: _Entry) -> None:
        for ids in [
            k for k in self._entries if len(k) <= len(entry.ids) and entry.ids[: len(k)] == k
        ]:
            del self._entries[ids]  # superseded: the new entry covers it
        self._entries[entry.ids] = entry
        while len(self._entries) > self.max_cached_prefixes:
            self._entries.popitem(last=False)
        self._note_kept()

    def _note_kept(self) -> None:
        """Tell the memory meter which caches are kept now."""
        kept = [e.cache for e in self._entries.values()]
        kept += self._branches.caches()
        self.kv_memory.keep(kept, [e.cache for e in self._pinned.values()])

    def _new_cache(self) -> Any:
        try:
            return DynamicCache(config=self.model.config)
        except Exception:  # noqa: BLE001 - configs without layer types: lazy layers
            return DynamicCache()

    def _fork(self, cache: Any) -> Any:
        """An independent view of a plain cache: updates to either leave the other intact.

        Copying the layer objects suffices (0.06 ms, no tensor copy), because updates, crops
        and batch ops of ``DynamicLayer`` rebind ``keys``/``values`` instead of writing in
        place; a unit test pins that.
        """
        fork = copy.copy(cache)
        fork.layers = [copy.copy(layer) for layer in cache.layers]
        return fork

    def pin_prefix(self, ids: Sequence[int]) -> None:
        """Keep a cache of ``ids`` until ``clear_cache`` drops it, whatever else is cached.

        For a prefix that calls across a whole run share, such as an evaluator's
        instructions and worked examples: it is computed once per run instead of again
        whenever the recent-prefix cache has let it go. At most ``MAX_PINNED`` are kept
        (the oldest goes first); pinning a kept prefix again costs nothing.
        """
        key = _check_ids(ids, self._vocab)
        with self._lock, torch.inference_mode():
            if key in self._pinned:
                return
            self._prefill(key)
            entry = self._entries.get(key)
            if entry is None:
                return  # a cache that cannot be kept (not a plain attention cache)
            self._pinned[key] = entry
            while len(self._pinned) > MAX_PINNED:
                self._pinned.popitem(last=False)
            self._note_kept()

    def clear_cache(self, *, keep_pinned: bool = False) -> None:
        """Drop every kept prefix cache (frees their memory); pinned ones too unless asked."""
        with self._lock:
            self._entries.clear()
            self._greedy.clear()
            self._branches.clear()
            if not keep_pinned:
                self._pinned.clear()
            self._note_kept()

    # ----------------------------------------------------------------- forward passes

    def _extend(self, cache: Any, tokens: Sequence[int]) -> torch.Tensor:
        """Feed ``tokens`` as one row; the logits after the last one, (vocab,) float32."""
        input_ids = torch.tensor([list(tokens)], dtype=torch.long)
        return self._forward(input_ids, cache, None, keep=1)[0, -1]

    def _step_rows(self, cache: Any, tokens: Sequence[int]) -> torch.Tensor:
        """Feed one token to each row of a batched cache; (rows, vocab) float32 logits."""
        input_ids = torch.tensor(list(tokens), dtype=torch.long).view(-1, 1)
        return self._forward(input_ids, cache, None, keep=1)[:, -1]

    def _forward(
        self,
        input_ids: torch.Tensor,
        cache: Any,
        mask: torch.Tensor | None,
        keep: Any,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One model call; ``keep`` is 1 (last position) or a tensor of positions to return.

        ``positions``: explicit position ids, (rows, tokens), for rows whose cached parts
        differ in length (None: each row continues right after the cache).
        """
        kwargs: dict[str, Any] = {self._cache_kw: cache, "use_cache": True}
        if mask is not None:
            kwargs["attention_mask"] = mask.to(self._device)
        if positions is not None:
            kwargs["position_ids"] = positions.to(self._device)
        if self._has_logits_to_keep:
            kwargs["logits_to_keep"] = keep
        try:
            out = self.model(input_ids=input_ids.to(self._device), **kwargs)
        except Exception as exc:
            raise BackendError(f"{self.model_name} forward pass failed: {exc}") from exc
        self.counters.forward_calls += 1
        self.kv_memory.observe(cache)
        fed = mask[:, -input_ids.shape[1] :].sum() if mask is not None else input_ids.numel()
        self.counters.tokens_processed += int(fed)
        logits = out.logits
        if not self._has_logits_to_keep:
            logits = logits[:, -1:] if isinstance(keep, int) else logits[:, keep]
        return logits.float()

    def _count_reuse(self, tokens: int) -> None:
        extra = self.counters.extra
        extra["prefix_tokens_reused"] = extra.get("prefix_tokens_reused", 0) + tokens


# --------------------------------------------------------------------- helpers


def _pick(logits: torch.Tensor, generator: torch.Generator | None) -> int:
    """Argmax without a generator, else a draw from the softmax of ``logits``."""
    if generator is None:
        return int(logits.argmax())
    probs = torch.softmax(logits.float().cpu(), dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def _is_plain(cache: Any) -> bool:
    """True for a DynamicCache of plain attention layers, whose ops never write in place."""
    return (
        type(cache) is DynamicCache
        and all(type(layer) is DynamicLayer for layer in cache.layers)
        and (cache.layers or cache.layer_class_to_replicate is DynamicLayer)
    )


def _batch_shape(states: torch.Tensor, rows: int, positions: int) -> tuple[int, ...]:
    """The shape of ``rows`` rows of ``positions`` positions like (1, heads, n, dim) ``states``."""
    return (rows, *states.shape[1:-2], positions, states.shape[-1])


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


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise BackendError(f"temperature must be > 0, got {temperature}")


def _greedy_only(req: ProposalRequest, rollout: _Rollout | None) -> bool:
    """A request for the greedy set alone, with a greedy roll-out: one greedy run does both."""
    greedy_rollout = rollout is not None and rollout.temperature == 0
    return greedy_rollout and req.num_candidates == 1 and not req.exclude and req.top_k <= TOP


def _check_rollout_temperature(temperature: float) -> None:
    """Roll-outs also take 0 (greedy)."""
    if not temperature >= 0:
        raise BackendError(f"roll-out temperature must be >= 0 (0: greedy), got {temperature}")


def _draw_rollout(logits: torch.Tensor, rollout: _Rollout) -> int:
    """The roll-out's next token: argmax at temperature 0, else a draw at its temperature."""
    if rollout.temperature == 0:
        return _pick(logits, None)
    return _pick(logits / rollout.temperature, rollout.generator)


def _check_messages(messages: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    if not messages:
        raise PromptError("no messages to answer")
    pairs = []
    for message in messages:
        if not (isinstance(message, tuple | list) and len(message) == 2):
            raise PromptError(f"a message must be a (role, content) pair, got {message!r}")
        role, content = message
        if not isinstance(role, str) or not isinstance(content, str):
            raise PromptError(f"role and content must be strings, got {message!r}")
        pairs.append((role, content))
    return pairs


def _special_tokens(tokenizer: Any) -> dict[str, int]:
    """Text -> id of every special added token (those the tokenizer matches before BPE)."""
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    specials = {str(tok): int(i) for i, tok in decoder.items() if getattr(tok, "special", False)}
    for text in getattr(tokenizer, "all_special_tokens", []) or []:
        token_id = tokenizer.convert_tokens_to_ids(text)
        if isinstance(token_id, int):
            specials.setdefault(text, token_id)
    return specials


def _alternation(words: dict[str, int]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


def _stop_ids(model: Any, tokenizer: Any, specials: dict[str, int]) -> frozenset[int]:
    ids: set[int] = set()
    sources = (
        tokenizer.eos_token_id,
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
        getattr(model.config, "eos_token_id", None),
    )
    for source in sources:
        ids.update(_ints(source))
    ids.update(specials[text] for text in END_OF_TURN_TOKENS if text in specials)
    return frozenset(ids)


def _ints(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value]


def _first_int(*values: Any) -> int:
    return next(int(v) for v in values if isinstance(v, int))
