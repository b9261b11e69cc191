"""SelfEvaluator: RAIN's self-evaluation, a backend answering the criterion's question.

The backend reads the criterion's evaluation prompt about a partial answer and the
probabilities of its two option labels give the score, asked in one or both option orders
(the reference's de-biasing). Each order's request-independent prefix (judge instructions,
worked examples) is pinned in the backend once per run; how the orders' rows go to the
backend (one call or one per order) is the backend side's choice
(``rain_guard.backends.option_calls``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from rain_guard.backends.base import Backend
from rain_guard.backends.option_calls import common_prefix, option_probs_in_orders
from rain_guard.errors import CriterionError
from rain_guard.judging.criteria import Criterion, check_orders, get_criterion
from rain_guard.judging.score_cache import ScoreCache

ScoreMode = Literal["probability", "vote"]


class SelfEvaluator:
    """RAIN's self-evaluation: a backend answers the criterion's question (in both orders).

    Args:
        backend: The model that judges (usually the one that generates).
        criterion: A built-in name or a ``Criterion``.
        mode: "probability" (default) averages the desired option's normalised probability
            over the orders, a continuous score; "vote" is the reference's binary vote
            (+1 if both orders prefer the desired option, -1 if neither, else 0).
        calibrate: Subtract the score of a content-free answer to the same request
            (contextual calibration), then multiply by ``calibration_scale`` and clip to
            [-1, 1]. None: the criterion's default (on for the built-ins).
        calibration_scale: Stretch of calibrated scores (raw differences are small on small
            models). None: the criterion's default.
        content_free: The content-free answer (None: the criterion's, "" for the built-ins).
        orders: Option orders asked: both (de-biased) or one of them (half the cost). None:
            the criterion's default.
        cache_size: Evaluations kept by text (the same text is never judged twice).
    """

    def __init__(
        self,
        backend: Backend,
        criterion: str | Criterion = "harmless",
        *,
        mode: ScoreMode = "probability",
        calibrate: bool | None = None,
        calibration_scale: float | None = None,
        content_free: str | None = None,
        orders: Sequence[int] | None = None,
        cache_size: int = 4096,
    ) -> None:
        if mode not in ("probability", "vote"):
            raise CriterionError(f"unknown score mode {mode!r}; use 'probability' or 'vote'")
        self.backend = backend
        self.criterion = get_criterion(criterion)
        self.mode: ScoreMode = mode
        self.calibrate = self.criterion.calibrate if calibrate is None else calibrate
        self.calibration_scale = (
            self.criterion.calibration_scale if calibration_scale is None else calibration_scale
        )
        self.content_free = self.criterion.content_free if content_free is None else content_free
        self.orders = check_orders(self.criterion.orders if orders is None else orders)
        self._cache = ScoreCache(cache_size)
        self._option_ids = option_token_ids(backend, self.criterion)
        self._pinned = False
        self._pinned_lengths = [0] * len(self.orders)  # tokens of each order's pinned prefix

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        """Scores in [-1, 1]; identical (prompt, answer) pairs come from the cache."""
        self.backend.counters.evaluation_cache_hits += len(answers) - len(
            self._cache.missing(prompt, answers)
        )
        wanted = [*answers, self.content_free] if self.calibrate else list(answers)
        raw = self._cache.scores(prompt, wanted, lambda todo: self._raw_scores(prompt, todo))
        base = raw[self.content_free] if self.calibrate else None
        return [self._final(raw[a], base) for a in answers]

    def _raw_scores(self, prompt: str, answers: list[str]) -> list[float]:
        """Uncalibrated scores: 2 * (mean desired share over the orders) - 1."""
        orders = self.orders
        self._pin_fixed_prefixes()
        rows = [self._prompt_ids(prompt, a, order) for a in answers for order in orders]
        probs = option_probs_in_orders(self.backend, rows, self._option_ids, self._pinned_lengths)
        self.backend.counters.evaluation_prompts += len(rows)
        k = len(orders)
        scores = []
        for i in range(len(answers)):
            shares = [
                desired_share(probs[k * i + j], self.criterion.desired_label(order), self.mode)
                for j, order in enumerate(orders)
            ]
            scores.append(2.0 * sum(shares) / k - 1.0)  # mean share in [0, 1] -> [-1, 1]
        return scores

    def _prompt_ids(self, prompt: str, answer: str, order: int) -> list[int]:
        return evaluation_prompt_ids(self.backend, self.criterion, prompt, answer, order)

    def _pin_fixed_prefixes(self) -> None:
        """Once: have the backend keep each order's request-independent prompt prefix.

        That prefix (judge instructions, worked examples: most of a few-shot evaluation
        prompt) is then computed once per run instead of once per answer. It is found as the common
        ids of two renders with different requests; the backend reuses caches by comparing
        ids, so a request whose first token merges with the template is still scored right.
        """
        pin = getattr(self.backend, "pin_prefix", None)
        if pin is None or self._pinned:
            return
        self._pinned = True
        for j, order in enumerate(self.orders):
            renders = [self._prompt_ids(text, text, order) for text in ("A", "B")]
            shared = common_prefix(renders)
            if shared > 0:
                pin(renders[0][:shared])
                self._pinned_lengths[j] = shared

    def _final(self, raw: float, base: float | None) -> float:
        if base is None:
            return raw
        return max(-1.0, min(1.0, (raw - base) * self.calibration_scale))


def option_token_ids(backend: Backend, criterion: Criterion) -> list[int]:
    """The single token id of each label, looked up through the tokenizer.

    Raises:
        CriterionError: a label is several tokens, or both labels are the same token.
    """
    ids = []
    for label in criterion.labels:
        toks = backend.tokenize(label)
        if len(toks) != 1:
            raise CriterionError(
                f"criterion {criterion.name!r}: label {label!r} is {len(toks)} tokens for "
                f"{backend.model_name}; labels must be exactly one token"
            )
        ids.append(toks[0])
    if ids[0] == ids[1]:
        raise CriterionError(
            f"criterion {criterion.name!r}: labels {criterion.labels} are the same token"
        )
    return ids


def evaluation_prompt_ids(
    backend: Backend, criterion: Criterion, prompt: str, answer: str, order: int
) -> list[int]:
    """Token ids of the criterion's question about ``answer`` in option ``order``."""
    if criterion.chat:
        ids = backend.chat_prompt_ids(criterion.render_messages(prompt, answer, order))
    else:
        ids = backend.tokenize(criterion.render(prompt, answer, order))
    if criterion.response_prefix:
        ids = ids + backend.tokenize(criterion.response_prefix)
    return ids


def desired_share(probs: Sequence[float], desired_index: int, mode: ScoreMode) -> float:
    """The desired label's share of the two labels' probability (``vote``: 1 or 0)."""
    desired, other = probs[desired_index], probs[1 - desired_index]
    if mode == "vote":
        return 1.0 if desired > other else 0.0
    total = desired + other
    return desired / total if total > 0 else 0.5
