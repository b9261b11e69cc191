"""The bench's runner: every prompt answered by each arm, interleaved, cold caches per arm.

For a fixed prompt set and seed, in one process, with the thread count fixed, every prompt is
answered by each arm in turn (arms interleaved per prompt, their order rotated, every prefix
cache cleared before each arm), so a busy shared machine slows all arms alike. Each arm's
answer comes from its method in ``rain_guard.decoding.METHODS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rain_guard.backends.base import Backend
from rain_guard.bench.arms import (
    ADAPTIVE,
    ARMS,
    PAPER_VANILLA,
    RAIN,
    REFERENCE,
    VANILLA,
    ArmRun,
)
from rain_guard.bench.items import Item
from rain_guard.bench.reference_cost import ReferenceCostBackend
from rain_guard.decoding import METHODS, DecodingContext
from rain_guard.judging.evaluator import Evaluator
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.messages import prompt_turns
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import Embedder
from rain_guard.search.run import GenerationResult


@dataclass
class Bench:
    """Runs the arms on prompts, interleaved, and keeps the results.

    Attributes:
        backend: The model (a ``TransformersBackend``; ``FakeBackend`` works for tests, its
            reference replay and uncached vanilla are then counted, not computed).
        config: RAIN settings; ``max_new_tokens`` caps every arm.
        evaluator_factory: Builds a fresh evaluator for a backend, once per (arm, prompt), so
            no arm profits from another's evaluation cache.
        embedder: Sentence encoder of the similarity update (None: off).
        adaptive: Also run RAIN with the adaptive budget.
        adaptive_config: Settings of that arm (default: ``config`` with ``adaptive_commit``).
        judge: Refusal judge with ``judge(prompt, answer).refused`` (None: no verdicts).
        on_step: Called after each arm's answer (progress).
        on_search_event: Called with ``(arm, event)`` for every progress event of a RAIN
            arm's search (``rain_generate``'s iterations and commits), so progress can move
            within an answer, which at the reference settings can take most of an hour.
        only: Run only these arms (None: all; "adaptive" counts only with ``adaptive``).
        system: A system message put before every prompt (None: none), e.g. to give the
            search a context as long as the reference's few-shot chat preamble.
        reference_timed: Run (b)'s replayed forward passes and time them (True), or only
            count them (False: the same exact counters in a fraction of the time; (b)'s
            seconds are NaN and every time ratio with (b) reads "not timed"). Counted only
            and with the RAIN arm, (b) is counted inside (a)'s own search (see
            ``counts_reference_in_rain``).
    """

    backend: Backend
    config: SearchConfig
    evaluator_factory: Callable[[Backend], Evaluator] = SelfEvaluator
    embedder: Embedder | None = None
    adaptive: bool = False
    adaptive_config: SearchConfig | None = None
    judge: Any = None
    on_step: Callable[[ArmRun], None] | None = None
    on_search_event: Callable[[str, dict[str, Any]], None] | None = None
    only: Sequence[str] | None = None
    system: str | None = None
    reference_timed: bool = True
    runs: list[ArmRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reference = ReferenceCostBackend(self.backend, compute=self.reference_timed)
        if self.adaptive_config is None:
            self.adaptive_config = self.config.replace(adaptive_commit=True)

    @property
    def arms(self) -> list[str]:
        """Arms in their base order (rotated per prompt)."""
        arms = [VANILLA, PAPER_VANILLA, RAIN, REFERENCE, *([ADAPTIVE] if self.adaptive else [])]
        return [a for a in arms if self.only is None or a in self.only]

    @property
    def counts_reference_in_rain(self) -> bool:
        """Whether (b) is counted inside (a)'s own search instead of a search of its own.

        So when (b) is only counted and (a) runs too: the counting wrapper returns exactly
        what the model returns, so a second search would repeat (a)'s decisions at (a)'s cost
        only to count them. One search gives both, in half the time.
        """
        arms = self.arms
        return not self.reference_timed and RAIN in arms and REFERENCE in arms

    def run(self, items: Sequence[Item]) -> list[ArmRun]:
        """Answer every item with every arm; the arm order rotates from item to item."""
        for i, item in enumerate(items):
            slots = [a for a in self.arms if a != REFERENCE or not self.counts_reference_in_rain]
            shift = i % len(slots)
            for arm in slots[shift:] + slots[:shift]:
                for run in self.run_slot(arm, item):
                    self.runs.append(run)
                    if self.on_step is not None:
                        self.on_step(run)
        return self.runs

    def run_slot(self, arm: str, item: Item) -> list[ArmRun]:
        """One arm's answer; for (a), also (b)'s when (b) is counted in (a)'s search."""
        if arm != RAIN or not self.counts_reference_in_rain:
            return [self.run_arm(arm, item)]
        messages, meter = self._fresh_start(item)
        runs = self._rain_counting_reference(item, messages)
        return [self._finish(run, item, meter) for run in runs]

    def run_arm(self, arm: str, item: Item) -> ArmRun:
        """One arm's answer to one item, with cold prefix caches.

        Only prefixes pinned for the whole run survive (an evaluator's fixed prefix, which
        the issue asks to compute once per run and which only the RAIN arms use).

        Raises:
            ValueError: ``arm`` is not one of the bench's arms.
        """
        if arm not in ARMS:
            raise ValueError(f"unknown arm {arm!r}")
        messages, meter = self._fresh_start(item)
        result = METHODS[arm].run(self._context(arm), messages).result
        return self._finish(arm_run_from(arm, item, result, result.seconds), item, meter)

    def _context(self, arm: str, backend: Backend | None = None) -> DecodingContext:
        """What the arm's method needs: the model (or ``backend``), its settings, progress."""
        report = self.on_search_event
        return DecodingContext(
            backend=self.backend if backend is None else backend,
            config=self.adaptive_config if arm == ADAPTIVE else self.config,
            evaluator_for=self.evaluator_factory,
            embedder=self.embedder,
            on_event=None if report is None else lambda event: report(arm, event),
            reference=self.reference,
        )

    def _fresh_start(self, item: Item) -> tuple[list[tuple[str, str]], Any]:
        """Cold prefix caches (pinned ones kept), the cache meter's peak reset, the messages."""
        clear = getattr(self.backend, "clear_cache", None)
        if clear is not None:
            clear(keep_pinned=True)
        meter = getattr(self.backend, "kv_memory", None)
        if meter is not None:
            meter.reset_peak()
        return prompt_turns(item.prompt, self.system), meter

    def _finish(self, run: ArmRun, item: Item, meter: Any) -> ArmRun:
        """The run with its cache peak and, with a judge, its refusal verdict."""
        run.peak_cache_bytes = self._peak_cache_bytes(run.arm, meter)
        if self.judge is not None:
            run.refused = bool(self.judge.judge(item.prompt, run.text).refused)
        return run

    def _peak_cache_bytes(self, arm: str, meter: Any) -> int | None:
        """Cache memory the arm held at most: measured, or modelled for (b) (None: unknown).

        (d) runs without a cache. Pinned evaluator prefixes are held across prompts and are
        not in any arm's peak (the report gives them apart).
        """
        if arm == PAPER_VANILLA:
            return 0
        if arm == REFERENCE:
            return self.reference.peak_cache_bytes
        return None if meter is None else meter.peak_bytes

    def _rain_counting_reference(
        self, item: Item, messages: list[tuple[str, str]]
    ) -> tuple[ArmRun, ArmRun]:
        """(a)'s search, run through the counting wrapper: (a)'s work and (b)'s, one search.

        The wrapper hands the search exactly the model's results, so the decisions are (a)'s
        and the model's own counters are (a)'s work. The wrapper's counters are (b)'s. (a)'s
        time leaves out the wrapper's counting; (b) is not timed.
        """
        wrapper = self.reference
        wrapper.reset()
        before = self.backend.counters.snapshot()
        counting_before = wrapper.reference_seconds
        result = METHODS[RAIN].run(self._context(RAIN, backend=wrapper), messages).result
        own = self.backend.counters.since(before)
        for key in ("evaluation_prompts", "evaluation_cache_hits"):  # the evaluator's counts
            own[key] = result.counters.get(key, 0)
        seconds = result.seconds - (wrapper.reference_seconds - counting_before)
        a = arm_run_from(RAIN, item, result, seconds, counters=own)
        return a, arm_run_from(REFERENCE, item, result, math.nan)


def arm_run_from(
    arm: str,
    item: Item,
    result: GenerationResult,
    seconds: float,
    counters: dict[str, int] | None = None,
) -> ArmRun:
    """``result`` as the bench's record of ``arm``'s answer to ``item`` (``counters``: its work)."""
    c = result.counters if counters is None else counters
    decisions = [list(rec["tokens"]) for rec in result.commits] or [list(result.token_ids)]
    return ArmRun(
        arm=arm,
        dataset=item.dataset,
        index=item.index,
        label=item.label,
        text=result.text,
        answer_tokens=len(result.token_ids),
        seconds=seconds,
        forward_calls=c.get("forward_calls", 0),
        tokens_processed=c.get("tokens_processed", 0),
        evaluation_prompts=c.get("evaluation_prompts", 0),
        evaluation_cache_hits=c.get("evaluation_cache_hits", 0),
        prefix_tokens_reused=c.get("prefix_tokens_reused", 0),
        iterations=result.iterations,
        commits=len(result.commits),
        stop_reason=result.stop_reason,
        prompt_tokens=result.prompt_tokens,
        evaluation_prompt_tokens=c.get("evaluation_prompt_tokens", 0),
        decisions=decisions,
    )
