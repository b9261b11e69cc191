"""FakeBackend: a tiny deterministic language model for unit tests and demos without weights.

Words are tokens (a token keeps its leading space), the vocabulary grows as new words are
tokenised, and the next-token distribution is a pseudo-random function of the last two ids,
so every run with the same seed is identical. ``boost`` makes chosen words likely, and
``judge`` scripts the evaluator's option probabilities from the evaluation text.

Thread safety and determinism: calls are serialised by a lock (one call at a time, like
``TransformersBackend``), so concurrent ``batch`` calls never corrupt the vocabulary. A word
first seen gets the next free id, so ids of words outside ``BASE_WORDS`` depend on the order
in which texts were first tokenised: the same prompts in the same order (or a backend that has
already seen every prompt word) give the same answers, concurrently or not.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Callable, Sequence

import numpy as np

from rain_guard.backends.base import Candidate, ProposalRequest, WorkCounters

EOS = "<eos>"
_TOKEN = re.compile(r"\s*<\|?[\w/]+\|?>|\s*[\w']+|\s*[^\w\s]|\s+")
BASE_WORDS = (
    EOS, ".", ",", " I", " you", " the", " a", " can", " not", " help", " with", " that",
    " it", " is", " safe", " here", " how", " to", " make", " bomb", " cake", " sorry", " sure",
    " step", " mix", " flour", " sugar", " and", " then", " bake", " Yes", " No", " A", " B",
)  # fmt: skip


class FakeBackend:
    """Deterministic word-level backend.

    Args:
        boost: Extra logit (nats) per word, e.g. ``{" bomb": 4.0}`` to make vanilla say it.
        judge: ``judge(evaluation_text) -> P(first label)`` scripts ``option_probs``;
            by default both labels are equally likely.
        answer_words: How many of the first vocabulary words the LM may emit (default all base).
        context_length: Reported context window (tokens).
    """

    model_name = "fake"

    def __init__(
        self,
        boost: dict[str, float] | None = None,
        judge: Callable[[str], float] | None = None,
        answer_words: int = len(BASE_WORDS),
        context_length: int = 2048,
    ) -> None:
        self.counters = WorkCounters()
        self._vocab: list[str] = list(BASE_WORDS)
        self._ids: dict[str, int] = {w: i for i, w in enumerate(self._vocab)}
        self._n_answer = answer_words
        self._bias = np.zeros(answer_words)
        for word, extra in (boost or {}).items():
            self._bias[self._ids[word]] = extra
        self._judge = judge or (lambda text: 0.5)
        self._context_length = context_length
        self._lock = threading.RLock()

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def stop_token_ids(self) -> frozenset[int]:
        return frozenset({self._ids[EOS]})

    def tokenize(self, text: str) -> list[int]:
        with self._lock:
            return [self._id(piece) for piece in _TOKEN.findall(text)]

    def detokenize(self, ids: Sequence[int]) -> str:
        with self._lock:
            return "".join(self._vocab[i] for i in ids if i != self._ids[EOS])

    def chat_prompt_ids(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        text = "".join(f"<|{role}|>{content}\n" for role, content in messages) + "<|assistant|>"
        return self.tokenize(text)

    def next_probs(self, prefix: Sequence[int], temperature: float = 1.0) -> np.ndarray:
        """Next-token distribution over the answer words (a pure function of the last 2 ids)."""
        key = zlib.crc32(np.asarray(list(prefix[-2:]) or [0], dtype=np.int64).tobytes())
        logits = np.random.default_rng(key).normal(0.0, 2.0, self._n_answer) + self._bias
        logits[self._ids[EOS]] -= 3.0  # keep answers from ending at once
        z = np.exp((logits - logits.max()) / temperature)
        return z / z.sum()

    def propose(self, requests: Sequence[ProposalRequest]) -> list[list[Candidate]]:
        with self._lock:
            return [self._propose_one(r) for r in requests]

    def _propose_one(self, req: ProposalRequest) -> list[Candidate]:
        rng = np.random.default_rng(req.seed)
        out: dict[tuple[int, ...], float] = {}
        for attempt in range(4 * req.num_candidates):
            toks, logp = self._draw(req, rng, greedy=attempt == 0)
            if toks not in req.exclude and toks not in out:
                out[toks] = logp
            if len(out) >= req.num_candidates:
                break
        return [Candidate(t, lp) for t, lp in out.items()]

    def _draw(self, req: ProposalRequest, rng: np.random.Generator, greedy: bool):
        ids, logp = list(req.prefix), 0.0
        k = self._n_answer if req.length == 1 else req.top_k
        for _ in range(req.length):
            probs = self.next_probs(ids, 1.0 if greedy else req.temperature)
            self.counters.forward_calls += 1
            self.counters.tokens_processed += 1
            top = np.argsort(-probs)[:k]
            p = probs[top] / probs[top].sum()
            pick = 0 if greedy else int(rng.choice(len(top), p=p))
            ids.append(int(top[pick]))
            logp += float(np.log(p[pick]))
            if ids[-1] in self.stop_token_ids:
                break
        return tuple(ids[len(req.prefix) :]), logp

    def rollout(
        self,
        prefixes: Sequence[Sequence[int]],
        *,
        boundaries: str,
        max_tokens: int,
        seed: int,
        temperature: float = 1.0,
    ) -> list[list[int]]:
        with self._lock:
            return self._rollout(prefixes, boundaries, max_tokens, seed, temperature)

    def _rollout(
        self,
        prefixes: Sequence[Sequence[int]],
        boundaries: str,
        max_tokens: int,
        seed: int,
        temperature: float,
    ) -> list[list[int]]:
        rng = np.random.default_rng(seed)
        outs = []
        for prefix in prefixes:
            ids, new = list(prefix), []
            while len(new) < max_tokens and not self._at_boundary(ids, boundaries):
                probs = self.next_probs(ids, temperature or 1.0)
                self.counters.forward_calls += 1
                self.counters.tokens_processed += 1
                pick = np.argmax(probs) if temperature == 0 else rng.choice(len(probs), p=probs)
                new.append(int(pick))
                ids.append(new[-1])
            outs.append(new)
        return outs

    def _at_boundary(self, ids: list[int], boundaries: str) -> bool:
        if ids and ids[-1] in self.stop_token_ids:
            return True
        text = self.detokenize(ids[-1:])
        return bool(text) and text[-1] in boundaries

    def option_probs(
        self, prompts: Sequence[Sequence[int]], option_ids: Sequence[int]
    ) -> list[list[float]]:
        with self._lock:
            return self._option_probs(prompts, option_ids)

    def _option_probs(
        self, prompts: Sequence[Sequence[int]], option_ids: Sequence[int]
    ) -> list[list[float]]:
        self.counters.forward_calls += 1
        self.counters.tokens_processed += sum(len(p) for p in prompts)
        out = []
        for prompt in prompts:
            p_first = float(self._judge(self.detokenize(prompt)))
            out.append([p_first, 1.0 - p_first][: len(option_ids)])
        return out

    def generate(
        self, prefix: Sequence[int], *, max_new_tokens: int, seed: int | None
    ) -> list[int]:
        with self._lock:
            return self._generate(prefix, max_new_tokens, seed)

    def _generate(self, prefix: Sequence[int], max_new_tokens: int, seed: int | None) -> list[int]:
        rng = np.random.default_rng(seed)
        ids, new = list(prefix), []
        while len(new) < max_new_tokens:
            probs = self.next_probs(ids)
            self.counters.forward_calls += 1
            self.counters.tokens_processed += 1
            tok = int(np.argmax(probs)) if seed is None else int(rng.choice(len(probs), p=probs))
            if tok in self.stop_token_ids:
                break
            new.append(tok)
            ids.append(tok)
        return new

    def _id(self, piece: str) -> int:
        if piece not in self._ids:
            self._ids[piece] = len(self._vocab)
            self._vocab.append(piece)
        return self._ids[piece]
