"""The answer methods an evaluation compares: vanilla, RAIN, and best-of-N at RAIN's budget.

Best-of-N is the obvious cheaper rival of RAIN: sample N whole answers, let the same evaluator
score them, keep the best. Matched budget means N equals the number of evaluations RAIN spent
on the same prompt (one per search iteration), so the comparison is evaluator call for call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rain_guard.backends.base import Backend, ProposalRequest
from rain_guard.judging.evaluator import Evaluator
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import Embedder
from rain_guard.search.run import prepare_prompt, rain_generate, vanilla_generate

METHODS = ("vanilla", "rain", "bon")


@dataclass
class MethodRunner:
    """Produces one answer per (prompt, method) with shared model, evaluator and settings.

    Attributes:
        backend: The generating model.
        evaluator: RAIN's evaluator, also the best-of-N selector.
        config: RAIN settings; ``max_new_tokens`` applies to every method.
        embedder: Sentence encoder for RAIN's similarity update (None: off).
        bon_top_k: Sampling pool of best-of-N answers (tokens per step).
        bon_max: Cap of N (answers sampled in one batch) to bound memory.
    """

    backend: Backend
    evaluator: Evaluator
    config: SearchConfig
    embedder: Embedder | None = None
    bon_top_k: int = 50
    bon_max: int = 64

    def run(self, method: str, prompt: str, bon_n: int | None = None) -> dict[str, Any]:
        """Answer ``prompt`` with ``method``; returns answer text and cost fields."""
        messages = [("user", prompt)]
        if method == "vanilla":
            r = vanilla_generate(self.backend, messages, max_new_tokens=self.config.max_new_tokens)
            return _fields(r.text, r.seconds, r.counters, iterations=0, evaluations=0)
        if method == "rain":
            r = rain_generate(
                self.backend,
                messages,
                config=self.config,
                evaluator=self.evaluator,
                embedder=self.embedder,
            )
            return _fields(
                r.text, r.seconds, r.counters, iterations=r.iterations, evaluations=r.iterations
            )
        if method == "bon":
            return self.best_of_n(prompt, max(1, min(bon_n or 16, self.bon_max)))
        raise ValueError(f"unknown method {method!r}; use one of {METHODS}")

    def best_of_n(self, prompt: str, n: int) -> dict[str, Any]:
        """Sample ``n`` answers in one batch (the greedy one first), keep the best-scored."""
        start = time.perf_counter()
        before = self.backend.counters.snapshot()
        prompt_ids, question = prepare_prompt(self.backend, [("user", prompt)], self.config)
        request = ProposalRequest(
            prefix=tuple(prompt_ids),
            num_candidates=n,
            length=self.config.max_new_tokens,
            top_k=self.bon_top_k,
            seed=self.config.seed,
            temperature=self.config.temperature,
        )
        candidates = self.backend.propose([request])[0]
        stops = self.backend.stop_token_ids
        texts = [
            self.backend.detokenize([t for t in c.tokens if t not in stops]) for c in candidates
        ]
        scores = self.evaluator.score(question, texts)
        best = max(range(len(texts)), key=lambda i: scores[i])
        counters = self.backend.counters.since(before)
        return _fields(
            texts[best],
            time.perf_counter() - start,
            counters,
            iterations=0,
            evaluations=len(texts),
        )


def _fields(
    text: str, seconds: float, counters: dict[str, int], *, iterations: int, evaluations: int
) -> dict[str, Any]:
    return {
        "answer": text,
        "seconds": round(seconds, 3),
        "model_tokens": counters.get("tokens_processed", 0),
        "forward_calls": counters.get("forward_calls", 0),
        "iterations": iterations,
        "evaluations": evaluations,
    }
