"""``rain-guard bench``: what RAIN costs, against vanilla decoding and the reference's way.

    rain-guard bench --limit 3 --max-tokens 32 --threads 1 --adaptive --json bench.json

For a fixed prompt set and seed, in one process, with the thread count fixed, every prompt is
answered by each arm in turn (arms interleaved per prompt, their order rotated, every prefix
cache cleared before each arm), so a busy shared machine slows all arms alike:

* ``rain``           (a) RAIN as implemented: KV caches reused, candidates and evaluations batched.
* ``reference``      (b) the same search decisions computed the reference's way
                     (``ReferenceCostBackend``: each forward from scratch, unbatched).
* ``vanilla``        (c) greedy decoding with a KV cache (``vanilla_generate``).
* ``paper_vanilla``  (d) greedy decoding without a KV cache, as the paper's baseline ran
                     (``use_cache=False``), capped at the same ``max_new_tokens`` as RAIN.
* ``adaptive``       (with ``--adaptive``) RAIN with the adaptive budget
                     (``SearchConfig.adaptive_commit``).

Costs are per committed (answer) token; time ratios compare summed wall times. The output is
markdown: the cost per arm, the ratios, the refusal judge's verdicts (so that nobody buys
speed with safety) and the targets of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rain_guard.backends.base import Backend, WorkCounters
from rain_guard.bench.reference_cost import ReferenceCostBackend, uncached_greedy_generate
from rain_guard.cli.options import add_system_options, config_from_args
from rain_guard.errors import ConfigError
from rain_guard.judging.evaluator import Evaluator
from rain_guard.judging.self_eval import SelfEvaluator
from rain_guard.messages import prompt_turns
from rain_guard.search.config import SearchConfig
from rain_guard.search.embeddings import Embedder
from rain_guard.search.run import (
    GenerationResult,
    prepare_prompt,
    rain_generate,
    vanilla_generate,
)
from rain_guard.search import steps as search

RAIN, REFERENCE, VANILLA, PAPER_VANILLA, ADAPTIVE = (
    "rain",
    "reference",
    "vanilla",
    "paper_vanilla",
    "adaptive",
)
ARM_TITLES = {
    RAIN: "(a) RAIN",
    REFERENCE: "(b) RAIN, reference's way",
    VANILLA: "(c) vanilla, KV cache",
    PAPER_VANILLA: "(d) vanilla, no cache",
    ADAPTIVE: "RAIN, adaptive budget",
}
DEFAULT_DATASETS = ("advbench", "xstest-safe")
# The prompt set whose adaptive/(c) ratio the benign-prompt target reads.
BENIGN = "xstest-safe"
PAPER_TIME_RATIO = 3.78  # RAIN / vanilla, LLaMA-2 70B (the paper's smallest overhead)
ALL = "all"
# Settings key of how many answers a report holds: "8 of 8", or "3 of 8 (incomplete)" in the
# report the bench rewrites after every answer while it runs.
ANSWERS = "answers"
# The report's "(b)" setting when (b) is counted in (a)'s search (counts_reference_in_rain).
REFERENCE_IN_RAIN = (
    "counted exactly in (a)'s own search (the same decisions by construction), its forward "
    "passes not run (not timed)"
)


@dataclass
class Item:
    """One benchmark prompt."""

    dataset: str
    index: int
    prompt: str
    label: str = ""


@dataclass
class ArmRun:
    """One arm's answer to one prompt and what it cost."""

    arm: str
    dataset: str
    index: int
    label: str
    text: str
    answer_tokens: int
    seconds: float
    forward_calls: int
    tokens_processed: int
    evaluation_prompts: int = 0
    evaluation_cache_hits: int = 0
    prefix_tokens_reused: int = 0
    iterations: int = 0
    commits: int = 0
    stop_reason: str = ""
    refused: bool | None = None
    prompt_tokens: int = 0
    evaluation_prompt_tokens: int = 0
    peak_cache_bytes: int | None = None
    decisions: list[list[int]] = field(default_factory=list)


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
        """
        messages, meter = self._fresh_start(item)
        if arm == VANILLA:
            result = vanilla_generate(
                self.backend, messages, max_new_tokens=self.config.max_new_tokens
            )
            run = _from_result(arm, item, result, result.seconds)
        elif arm == PAPER_VANILLA:
            run = self._paper_vanilla(item, messages)
        elif arm in (RAIN, ADAPTIVE):
            config = self.config if arm == RAIN else self.adaptive_config
            result = self._rain(arm, self.backend, messages, config)
            run = _from_result(arm, item, result, result.seconds)
        elif arm == REFERENCE:
            run = self._reference(item, messages)
        else:
            raise ValueError(f"unknown arm {arm!r}")
        return self._finish(run, item, meter)

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

    def _rain(
        self, arm: str, backend: Backend, messages: list[tuple[str, str]], config: SearchConfig
    ) -> GenerationResult:
        report = self.on_search_event
        return rain_generate(
            backend,
            messages,
            config=config,
            evaluator=self.evaluator_factory(backend),
            embedder=self.embedder,
            on_event=None if report is None else lambda event: report(arm, event),
        )

    def _reference(self, item: Item, messages: list[tuple[str, str]]) -> ArmRun:
        """(b): RAIN through the wrapper; its time excludes the inner backend's calls."""
        wrapper = self.reference
        wrapper.reset()
        inner_before = wrapper.inner_seconds
        result = self._rain(REFERENCE, wrapper, messages, self.config)
        seconds = result.seconds - (wrapper.inner_seconds - inner_before)
        if not self.reference_timed:
            seconds = math.nan
        return _from_result(REFERENCE, item, result, seconds)

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
        result = self._rain(RAIN, wrapper, messages, self.config)
        own = self.backend.counters.since(before)
        for key in ("evaluation_prompts", "evaluation_cache_hits"):  # the evaluator's counts
            own[key] = result.counters.get(key, 0)
        seconds = result.seconds - (wrapper.reference_seconds - counting_before)
        a = _from_result(RAIN, item, result, seconds, counters=own)
        return a, _from_result(REFERENCE, item, result, math.nan)

    def _paper_vanilla(self, item: Item, messages: list[tuple[str, str]]) -> ArmRun:
        """(d): greedy decoding without a KV cache (replayed for backends without a model)."""
        start = time.perf_counter()
        prompt_ids, _ = prepare_prompt(self.backend, messages, self.config)
        cap = min(self.config.max_new_tokens, self.backend.context_length - len(prompt_ids))
        model = getattr(self.backend, "model", None)
        if model is not None:
            counters = WorkCounters()
            ids = uncached_greedy_generate(
                model,
                prompt_ids,
                max_new_tokens=cap,
                stop_ids=self.backend.stop_token_ids,
                counters=counters,
            )
            seconds = time.perf_counter() - start
        else:
            wrapper = ReferenceCostBackend(self.backend)
            ids = wrapper.generate(prompt_ids, max_new_tokens=cap, seed=None)
            counters = wrapper.counters
            seconds = time.perf_counter() - start - wrapper.inner_seconds
        return ArmRun(
            arm=PAPER_VANILLA,
            dataset=item.dataset,
            index=item.index,
            label=item.label,
            text=self.backend.detokenize(ids),
            answer_tokens=len(ids),
            seconds=seconds,
            forward_calls=counters.forward_calls,
            tokens_processed=counters.tokens_processed,
            stop_reason="vanilla-length" if len(ids) >= cap else "vanilla-eos",
            prompt_tokens=len(prompt_ids),
            decisions=[list(ids)],
        )


def _from_result(
    arm: str,
    item: Item,
    result: GenerationResult,
    seconds: float,
    counters: dict[str, int] | None = None,
) -> ArmRun:
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


# --------------------------------------------------------------------- summaries


@dataclass
class ArmTotals:
    """Sums of one arm's runs over a group of prompts (the cache peak: their largest)."""

    prompts: int = 0
    answer_tokens: int = 0
    seconds: float = 0.0
    forward_calls: int = 0
    tokens_processed: int = 0
    evaluation_prompts: int = 0
    evaluation_cache_hits: int = 0
    prefix_tokens_reused: int = 0
    iterations: int = 0
    commits: int = 0
    refused: int = 0
    judged: int = 0
    harmful: int = 0
    unsafe_judged: int = 0
    peak_cache_bytes: int | None = None  # the most over the prompts, not a sum

    def add(self, run: ArmRun) -> None:
        self.prompts += 1
        if run.peak_cache_bytes is not None:
            self.peak_cache_bytes = max(self.peak_cache_bytes or 0, run.peak_cache_bytes)
        for name in (
            "answer_tokens",
            "seconds",
            "forward_calls",
            "tokens_processed",
            "evaluation_prompts",
            "evaluation_cache_hits",
            "prefix_tokens_reused",
            "iterations",
            "commits",
        ):
            setattr(self, name, getattr(self, name) + getattr(run, name))
        if run.refused is not None:
            self.judged += 1
            self.refused += int(run.refused)
            if run.label == "unsafe":
                self.unsafe_judged += 1
                self.harmful += int(not run.refused and bool(run.text.strip()))

    def per_token(self, name: str) -> float:
        """``name`` per committed answer token (the sum over prompts, divided)."""
        return getattr(self, name) / max(1, self.answer_tokens)


def totals(runs: Sequence[ArmRun]) -> dict[str, dict[str, ArmTotals]]:
    """Group ("all" and each dataset) -> arm -> totals."""
    out: dict[str, dict[str, ArmTotals]] = {}
    for run in runs:
        for group in (ALL, run.dataset):
            out.setdefault(group, {}).setdefault(run.arm, ArmTotals()).add(run)
    return out


RATIOS: tuple[tuple[str, str], ...] = (
    (RAIN, VANILLA),
    (RAIN, PAPER_VANILLA),
    (REFERENCE, RAIN),
    (PAPER_VANILLA, VANILLA),
    (ADAPTIVE, VANILLA),
    (ADAPTIVE, PAPER_VANILLA),
    (ADAPTIVE, RAIN),
)


def ratio_rows(group: dict[str, ArmTotals]) -> list[dict[str, Any]]:
    """Ratios between arms in ``group``: time (total, per token), work per token, cache peak."""
    rows = []
    for num, den in RATIOS:
        a, b = group.get(num), group.get(den)
        if a is None or b is None:
            continue
        rows.append(
            {
                "ratio": f"{_short(num)}/{_short(den)}",
                "time": _div(a.seconds, b.seconds),
                "time_per_token": _div(a.per_token("seconds"), b.per_token("seconds")),
                "tokens_processed_per_token": _div(
                    a.per_token("tokens_processed"), b.per_token("tokens_processed")
                ),
                "forward_calls_per_token": _div(
                    a.per_token("forward_calls"), b.per_token("forward_calls")
                ),
                "peak_cache": _peak_ratio(a.peak_cache_bytes, b.peak_cache_bytes),
            }
        )
    return rows


def _peak_ratio(a: int | None, b: int | None) -> float | None:
    """Ratio of two cache peaks; None when either is unknown or the second is 0 (no cache)."""
    return None if a is None or not b else a / b


def decisions_identical(runs: Sequence[ArmRun]) -> bool | None:
    """Whether (b) committed exactly (a)'s token sets on every prompt (None: not both run)."""
    by_key: dict[tuple[str, int], dict[str, ArmRun]] = {}
    for run in runs:
        by_key.setdefault((run.dataset, run.index), {})[run.arm] = run
    pairs = [(v[RAIN], v[REFERENCE]) for v in by_key.values() if RAIN in v and REFERENCE in v]
    if not pairs:
        return None
    return all(a.decisions == b.decisions and a.iterations == b.iterations for a, b in pairs)


def targets(groups: dict[str, dict[str, ArmTotals]], benign: str) -> list[dict[str, Any]]:
    """The performance targets (docs/performance.md), each with its measured value."""
    rows = []
    every = groups.get(ALL, {})
    rain, ref = every.get(RAIN), every.get(REFERENCE)
    if rain and ref:
        t = _div(ref.per_token("tokens_processed"), rain.per_token("tokens_processed"))
        f = _div(ref.per_token("forward_calls"), rain.per_token("forward_calls"))
        rows.append(_target("tokens processed per token, (b)/(a) >= 30", t, t >= 30))
        rows.append(_target("forward calls per token, (b)/(a) >= 5", f, f >= 5))
    # Time per answer token: an arm whose answer ends early (EOS) is not credited for it.
    paper = every.get(PAPER_VANILLA)
    if rain and paper:
        r = _div(rain.per_token("seconds"), paper.per_token("seconds"))
        name = f"time per token (a)/(d) < {PAPER_TIME_RATIO} (paper)"
        rows.append(_target(name, r, r < PAPER_TIME_RATIO))
    group = groups.get(benign, {})
    adaptive, vanilla = group.get(ADAPTIVE), group.get(VANILLA)
    if adaptive and vanilla:
        r = _div(adaptive.per_token("seconds"), vanilla.per_token("seconds"))
        rows.append(_target(f"time per token adaptive/(c) <= 2 on {benign}", r, r <= 2))
    return rows


def _target(name: str, value: float, met: bool) -> dict[str, Any]:
    return {"target": name, "measured": value, "met": met}


def _div(a: float, b: float) -> float:
    return a / b if b else float("inf")


def _short(arm: str) -> str:
    return {RAIN: "(a)", REFERENCE: "(b)", VANILLA: "(c)", PAPER_VANILLA: "(d)"}.get(arm, arm)


# --------------------------------------------------------------------- markdown


def markdown(runs: Sequence[ArmRun], settings: dict[str, Any], benign: str = BENIGN) -> str:
    """The whole report: settings, cost per arm, ratios, judge verdicts, targets."""
    groups = totals(runs)
    lines = ["## rain-guard bench", ""]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    lines += _lengths(runs)
    same = decisions_identical(runs)
    if same is not None:
        lines.append(
            f"- (b) made exactly (a)'s decisions on every prompt: {'yes' if same else 'NO'}"
        )
    for name, group in groups.items():
        lines += ["", f"### {name}: cost per arm", "", *_cost_table(group)]
        lines += ["", f"### {name}: ratios", "", *_ratio_table(group)]
    lines += ["", "### GCG refusal judge", "", *_judge_table(groups)]
    rows = targets(groups, benign)
    if rows:
        lines += ["", "### targets", "", "| target | measured | met |", "|---|---:|---|"]
        lines += [f"| {r['target']} | {r['measured']:.2f} | {'yes' if r['met'] else 'NO'} |"
                  for r in rows]  # fmt: skip
    return "\n".join(lines) + "\n"


def _lengths(runs: Sequence[ArmRun]) -> list[str]:
    """Mean chat prompt and evaluation prompt lengths (the latter as (b) saw them)."""
    prompts = [r.prompt_tokens for r in runs if r.arm == VANILLA]
    ref = [r for r in runs if r.arm == REFERENCE and r.evaluation_prompts]
    out = []
    if prompts:
        out.append(f"- chat prompt: {sum(prompts) / len(prompts):.0f} tokens on average")
    if ref:
        tokens = sum(r.evaluation_prompt_tokens for r in ref)
        out.append(
            f"- evaluation prompt: {tokens / sum(r.evaluation_prompts for r in ref):.0f} "
            "tokens on average (as replayed by (b))"
        )
    return out


def _cost_table(group: dict[str, ArmTotals]) -> list[str]:
    rows = [
        "| arm | prompts | answer tokens | tokens processed / token | forward calls / token "
        "| iterations / commit | eval prompts (cache hits) | seconds | s / token "
        "| peak cache MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, t in sorted(group.items(), key=lambda kv: list(ARM_TITLES).index(kv[0])):
        per_commit = f"{t.iterations / t.commits:.2f}" if t.commits else "-"
        evals = f"{t.evaluation_prompts} ({t.evaluation_cache_hits})" if t.commits else "-"
        rows.append(
            f"| {ARM_TITLES[arm]} | {t.prompts} | {t.answer_tokens} "
            f"| {t.per_token('tokens_processed'):.1f} | {t.per_token('forward_calls'):.2f} "
            f"| {per_commit} | {evals} | {_fmt(t.seconds, '.1f')} "
            f"| {_fmt(t.per_token('seconds'), '.3f')} | {_megabytes(t.peak_cache_bytes)} |"
        )
    return rows


def _ratio_table(group: dict[str, ArmTotals]) -> list[str]:
    rows = [
        "| ratio | time (total) | time per token | tokens processed / token "
        "| forward calls / token | peak cache memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in ratio_rows(group):
        peak = "-" if r["peak_cache"] is None else f"{r['peak_cache']:.2f}"
        rows.append(
            f"| {r['ratio']} | {_fmt(r['time'], '.2f')} | {_fmt(r['time_per_token'], '.2f')} "
            f"| {r['tokens_processed_per_token']:.2f} | {r['forward_calls_per_token']:.2f} "
            f"| {peak} |"
        )
    return rows


def _megabytes(n: int | None) -> str:
    """Bytes as MB (10^6) with one decimal, "-" when unknown."""
    return "-" if n is None else f"{n / 1e6:.1f}"


def _fmt(value: float, spec: str) -> str:
    """``value`` formatted, or "not timed" for the NaN seconds of a counted-only (b)."""
    return "not timed" if math.isnan(value) else format(value, spec)


def _judge_table(groups: dict[str, dict[str, ArmTotals]]) -> list[str]:
    rows = [
        "| prompts | arm | refused | harmful (unsafe prompts answered, not refused) |",
        "|---|---|---:|---:|",
    ]
    for name, group in groups.items():
        if name == ALL:
            continue
        for arm in (VANILLA, RAIN, ADAPTIVE):
            t = group.get(arm)
            if t is None or not t.judged:
                continue
            harmful = f"{t.harmful}/{t.unsafe_judged}" if t.unsafe_judged else "-"
            rows.append(f"| {name} | {ARM_TITLES[arm]} | {t.refused}/{t.judged} | {harmful} |")
    return rows


def report_json(runs: Sequence[ArmRun], settings: dict[str, Any], benign: str) -> dict[str, Any]:
    """Everything of the report as JSON-ready data."""
    groups = totals(runs)
    return _no_nan(
        {
            "settings": settings,
            "decisions_identical": decisions_identical(runs),
            "runs": [asdict(r) for r in runs],
            "totals": {g: {a: asdict(t) for a, t in arms.items()} for g, arms in groups.items()},
            "ratios": {g: ratio_rows(arms) for g, arms in groups.items()},
            "targets": targets(groups, benign),
        }
    )


def _no_nan(data: Any) -> Any:
    """``data`` with NaN (an untimed arm's seconds) as None, so the JSON is standard."""
    if isinstance(data, dict):
        return {k: _no_nan(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_no_nan(v) for v in data]
    if isinstance(data, float) and math.isnan(data):
        return None
    return data


# --------------------------------------------------------------------- command line


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` options to ``parser`` (the ``rain-guard bench`` sub-command)."""
    d = SearchConfig()
    parser.add_argument("--model", default="smollm2", help="smollm2 (embedded), fake, path, hub id")
    parser.add_argument(
        "--dataset",
        action="append",
        default=None,
        help=f"prompt set (repeatable; default {' and '.join(DEFAULT_DATASETS)}, dev split)",
    )
    parser.add_argument("--limit", type=int, default=3, help="prompts per dataset (first N)")
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        metavar="K",
        help="start after the first K prompts of each dataset (shards a long run across "
        "processes; bench-merge joins their reports)",
    )
    parser.add_argument("--criterion", default="harmless", help="evaluator criterion")
    add_system_options(parser)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--max-tokens", type=int, default=32, help="answer tokens at most (all arms)"
    )
    parser.add_argument("--t-min", type=int, default=d.t_min)
    parser.add_argument("--t-max", type=int, default=d.t_max)
    parser.add_argument("--v-threshold", type=float, default=d.v_threshold)
    parser.add_argument("--candidates", type=int, default=d.num_candidates, help="q per expansion")
    parser.add_argument("--rollout-tokens", type=int, default=d.rollout_max_tokens)
    parser.add_argument("--no-similarity", action="store_true", help="skip the embedding update")
    parser.add_argument(
        "--set-lengths",
        type=_int_list,
        default=d.set_lengths,
        help="token-set length by depth, comma list (reference: 1,2,4,10)",
    )
    parser.add_argument("--adaptive", action="store_true", help="add RAIN with the adaptive budget")
    parser.add_argument("--adaptive-min-iterations", type=int, default=d.adaptive_min_iterations)
    parser.add_argument("--adaptive-value", type=float, default=d.adaptive_value)
    parser.add_argument("--adaptive-margin", type=float, default=d.adaptive_margin)
    parser.add_argument(
        "--no-greedy-first",
        action="store_true",
        help="adaptive arm: propose all q sets at every expansion (default: greedy set first)",
    )
    parser.add_argument(
        "--sampled-rollouts",
        action="store_true",
        help="adaptive arm with greedy first: sample roll-outs as RAIN does (default: greedy)",
    )
    parser.add_argument(
        "--arms",
        default=",".join((RAIN, REFERENCE, VANILLA, PAPER_VANILLA)),
        help="comma list of arms to run: rain, reference, vanilla, paper_vanilla "
        "(adaptive is added by --adaptive)",
    )
    parser.add_argument(
        "--reference-count-only",
        action="store_true",
        help="(b): count the reference's work exactly without running its forward passes "
        "(no time for (b); for settings where running it would take hours); with the rain "
        "arm, (b) is counted inside (a)'s search, so the two cost one search",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (fixed)")
    parser.add_argument("--device", default=None, help="torch device: cpu (default), cuda")
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "bfloat16", "float16"],
        help="weight dtype (float32: bit-exact cache reuse)",
    )
    parser.add_argument(
        "--max-cached-prefixes",
        type=int,
        default=None,
        metavar="N",
        help="prefix KV caches the model keeps (default 4): memory traded for recompute",
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the report here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=cmd_bench)


def _int_list(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> ``(1, 2, 4)``, for argparse."""
    try:
        return tuple(int(n) for n in text.split(",") if n.strip())
    except ValueError:
        message = f"expected integers separated by commas: {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def load_items(datasets: Sequence[str], limit: int, skip: int = 0) -> list[Item]:
    """Dev-split prompts ``skip + 1`` to ``skip + limit`` of each dataset, interleaved.

    Raises:
        ConfigError: ``limit`` < 1 or ``skip`` < 0.
    """
    from rain_guard.eval import load_dataset

    if limit < 1 or skip < 0:
        raise ConfigError(f"need --limit >= 1 and --skip >= 0, got {limit} and {skip}")
    per = [load_dataset(name, split="dev", limit=skip + limit)[skip:] for name in datasets]
    items = []
    for i in range(max((len(p) for p in per), default=0)):
        for rows in per:
            if i < len(rows):
                r = rows[i]
                items.append(Item(r.dataset, r.index, r.prompt, r.label))
    return items


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the bench and print the markdown report (progress on stderr)."""
    import torch

    from rain_guard.backends.loading import load_backend
    from rain_guard.eval import GCGRefusalJudge

    torch.set_num_threads(args.threads)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = sorted(set(arms) - set(ARM_TITLES))
    if unknown:
        print(
            f"rain-guard bench: unknown arm(s) {unknown}; use {list(ARM_TITLES)}", file=sys.stderr
        )
        return 2
    datasets = args.dataset or list(DEFAULT_DATASETS)
    config = config_from_args(args)
    items = load_items(datasets, args.limit, args.skip)
    backend = load_backend(
        args.model, num_threads=args.threads, dtype=args.dtype, device=args.device
    )
    if args.max_cached_prefixes is not None and hasattr(backend, "max_cached_prefixes"):
        backend.max_cached_prefixes = args.max_cached_prefixes
    embedder = None
    if not args.no_similarity:
        from rain_guard.search.embeddings import MiniLMEmbedder

        embedder = MiniLMEmbedder()
    bench = Bench(
        backend,
        config,
        evaluator_factory=lambda b: SelfEvaluator(b, args.criterion),
        embedder=embedder,
        adaptive=args.adaptive,
        judge=GCGRefusalJudge(),
        only=[*arms, *([ADAPTIVE] if args.adaptive else [])],
        system=args.system,
        reference_timed=not args.reference_count_only,
    )
    settings = _settings(args, backend, config, datasets, len(items))
    settings["arms"] = ", ".join(ARM_TITLES[a] for a in bench.arms)
    if bench.counts_reference_in_rain:
        settings["(b)"] = REFERENCE_IN_RAIN
    total = len(items) * len(bench.arms)

    def report(*, final: bool) -> dict[str, Any]:
        done = f"{len(bench.runs)} of {total}" + ("" if final else " (incomplete)")
        return {**settings, **_memory_settings(backend), ANSWERS: done}

    def step(run: ArmRun) -> None:
        bar.answer_done(run)
        if args.json:  # a run stopped or killed later keeps the answers it finished
            write_report(args.json, bench.runs, report(final=False), BENIGN, quiet=True)

    with BenchProgress(total, config.max_new_tokens, args.quiet) as bar:
        bench.on_step = step
        bench.on_search_event = bar.search_event
        runs = bench.run(items)
    final = report(final=True)  # one reading of the memory settings for both outputs
    print(markdown(runs, final, BENIGN))
    if args.json:
        write_report(args.json, runs, final, BENIGN)
    return 0


def write_report(
    path: str,
    runs: Sequence[ArmRun],
    settings: dict[str, Any],
    benign: str,
    *,
    quiet: bool = False,
) -> None:
    """Write ``report_json`` to ``path`` (standard JSON: an untimed arm's seconds are null).

    The file is replaced whole (written beside it, then renamed), so a reader or a killed
    run never sees half a report.
    """
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(report_json(runs, settings, benign), handle, indent=2)
    os.replace(tmp, path)
    if not quiet:
        print(f"report written to {path}", file=sys.stderr)


class BenchProgress:
    """A tqdm bar of answers on stderr that also moves inside a RAIN arm's answer.

    Between answers its postfix names the arm that finished; during a search it shows the
    arm, the answer tokens committed so far (of the budget) and the search iterations.
    """

    def __init__(self, answers: int, max_tokens: int, disable: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=answers, desc="bench", unit="answer", file=sys.stderr, disable=disable
        )
        self.max_tokens = max_tokens
        self.answer_tokens = 0

    def search_event(self, arm: str, event: dict[str, Any]) -> None:
        """Show a search's progress (``rain_generate`` events; others are ignored)."""
        if event.get("event") == "commit":
            self.answer_tokens = event["answer_tokens"]
        elif event.get("event") == "iteration":
            self.bar.set_postfix(
                arm=arm,
                tokens=f"{self.answer_tokens}/{self.max_tokens}",
                iterations=event["iteration"],
            )

    def answer_done(self, run: ArmRun) -> None:
        """Count an arm's finished answer."""
        self.answer_tokens = 0
        self.bar.set_postfix(arm=run.arm)
        self.bar.update(1)

    def __enter__(self) -> BenchProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


def _memory_settings(backend: Backend) -> dict[str, str]:
    """What the peak cache column means, the pinned prefixes, and the process's peak RSS."""
    out = {
        "peak cache MB": "KV caches held between calls (kept prefixes and the cache in use; "
        "(b): modelled, the reference's walk or evaluation KV plus its dicp logits; "
        "(d): none, it runs without a cache)"
    }
    if hasattr(backend, "max_cached_prefixes"):
        out["prefix caches kept"] = str(backend.max_cached_prefixes)
    meter = getattr(backend, "kv_memory", None)
    if meter is not None:
        out["pinned evaluator prefixes"] = (
            f"{_megabytes(meter.pinned_bytes)} MB (kept across prompts, RAIN arms only; "
            "not in the peaks)"
        )
    out["process peak RSS"] = f"{_peak_rss_bytes() / 1e6:.0f} MB (all arms and the model)"
    return out


def _peak_rss_bytes() -> int:
    """The process's peak resident memory (``ru_maxrss``: KB on Linux, bytes on macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _which(limit: int, skip: int) -> str:
    """Which prompts of each dataset ran, e.g. "first 3" or "prompts 4-6"."""
    return f"first {limit}" if skip == 0 else f"prompts {skip + 1}-{skip + limit}"


def _device_name(backend: Backend) -> str:
    """The accelerator's name, e.g. "cuda: NVIDIA H100 80GB HBM3", or the CPU."""
    import torch

    device = getattr(getattr(backend, "model", None), "device", None)
    if device is not None and device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return "CPU (no GPU)" if not torch.cuda.is_available() else "CPU (a GPU is present, unused)"


def _settings(
    args: argparse.Namespace,
    backend: Backend,
    config: SearchConfig,
    datasets: Sequence[str],
    n: int,
) -> dict[str, Any]:
    import torch

    out = {
        "model": backend.model_name,
        "device": _device_name(backend),
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "prompts": f"{n} ({', '.join(datasets)}, dev split, {_which(args.limit, args.skip)} each)",
        "criterion": args.criterion,
        "system message": f"{len(args.system)} characters" if args.system else "none",
        "(b)": "counted exactly, its forward passes not run (not timed)"
        if args.reference_count_only
        else "replayed with real forward passes (timed)",
        "seed": config.seed,
        "max_new_tokens": f"{config.max_new_tokens} (every arm; (d) is capped at this too, "
        "the reference's vanilla ran to 2048 tokens in all)",
        "search": f"t_min {config.t_min}, t_max {config.t_max}, v_threshold "
        f"{config.v_threshold}, q {config.num_candidates}, rollout <= "
        f"{config.rollout_max_tokens}, set lengths {config.set_lengths}, similarity "
        f"{'on' if config.use_similarity else 'off'}",
    }
    if args.adaptive:
        adaptive = config.replace(adaptive_commit=True)
        out["adaptive"] = (
            f"min iterations {config.adaptive_min_iterations}, value >= "
            f"{config.adaptive_value}, margin {config.adaptive_margin}, greedy first "
            f"{'on' if search.greedy_first(adaptive) else 'off'}, greedy roll-outs "
            f"{'on' if search.greedy_rollout(adaptive) else 'off'}"
        )
    return out
