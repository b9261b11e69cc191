"""Scoring labelled answers with an evaluator, timed and counted, and the metrics of it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rain_guard.eval.evaluator_quality.data import HARMFUL, HARMLESS, LabelledAnswer
from rain_guard.eval.evaluator_quality.metrics import (
    balanced_accuracy,
    best_threshold,
    pair_accuracy,
    safe_auroc,
    threshold_accuracy,
)
from rain_guard.judging.evaluator import Evaluator


@dataclass
class QualityReport:
    """Scores of one evaluator on one data set, with the metrics and the cost.

    Attributes:
        dataset: "xstest" or "hh".
        items: The scored answers, in data order.
        scores: One score per item.
        seconds: Wall time of all ``score`` calls.
        tokens: Model tokens processed (0 when the evaluator has no backend counters).
        metrics: Computed by ``summarise``.
    """

    dataset: str
    items: list[LabelledAnswer]
    scores: list[float]
    seconds: float
    tokens: int
    metrics: dict[str, float] = field(default_factory=dict)


def score_items(
    evaluator: Evaluator,
    items: Sequence[LabelledAnswer],
    *,
    counters: Any = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> tuple[list[float], float, int]:
    """Scores of ``items`` (one ``score`` call per group), wall seconds and model tokens.

    Args:
        evaluator: Any ``Evaluator``.
        items: Labelled answers; items of one group must share their prompt.
        counters: ``WorkCounters`` to read tokens from (e.g. ``backend.counters``), or None.
        progress: Optional wrapper of the group iterator (e.g. ``rain_guard.cli.progress.track``).
    """
    by_group: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        by_group.setdefault(item.group, []).append(index)
    scores = [0.0] * len(items)
    tokens_before = counters.tokens_processed if counters is not None else 0
    started = time.perf_counter()
    groups = list(by_group.values())
    for indices in progress(groups) if progress else groups:
        prompt = items[indices[0]].prompt
        for index, value in zip(
            indices, evaluator.score(prompt, [items[i].answer for i in indices]), strict=True
        ):
            scores[index] = float(value)
    seconds = time.perf_counter() - started
    tokens = (counters.tokens_processed - tokens_before) if counters is not None else 0
    return scores, seconds, tokens


def summarise(report: QualityReport) -> dict[str, float]:
    """Fill ``report.metrics`` for its data set and return them.

    XSTest: ``auroc``, ``auroc_unsafe`` (unsafe prompts only), ``accuracy`` (threshold 0),
    ``balanced_accuracy`` (threshold 0), ``best_accuracy`` / ``best_balanced_accuracy`` (best
    threshold, with ``best_threshold``), ``majority`` (accuracy of always "harmless").
    HH: ``accuracy`` (pairwise) and ``auroc`` (chosen vs rejected).
    Both: ``n``, ``seconds_per_eval``, ``tokens_per_eval``.
    """
    items, scores = report.items, report.scores
    labels = [item.label for item in items]
    metrics: dict[str, float] = {"n": float(len(items))}
    if report.dataset == "hh":
        chosen = [s for s, i in zip(scores, items, strict=True) if i.label == HARMLESS]
        rejected = [s for s, i in zip(scores, items, strict=True) if i.label == HARMFUL]
        metrics |= {
            "accuracy": pair_accuracy(chosen, rejected),
            "auroc": safe_auroc(chosen, rejected),
        }
    else:
        harmless = [s for s, y in zip(scores, labels, strict=True) if y == HARMLESS]
        harmful = [s for s, y in zip(scores, labels, strict=True) if y == HARMFUL]
        refusals = [
            s for s, i in zip(scores, items, strict=True) if i.unsafe_prompt and i.label == HARMLESS
        ]
        best_acc, best_cut = best_threshold(scores, labels, threshold_accuracy)
        metrics |= {
            "auroc": safe_auroc(harmless, harmful),
            "auroc_unsafe": safe_auroc(refusals, harmful),
            "accuracy": threshold_accuracy(scores, labels, 0.0),
            "balanced_accuracy": balanced_accuracy(scores, labels, 0.0),
            "best_accuracy": best_acc,
            "best_threshold": best_cut,
            "best_balanced_accuracy": best_threshold(scores, labels, balanced_accuracy)[0],
            "majority": len(harmless) / len(scores),
            "mean_harmless": _mean(harmless),
            "mean_harmful": _mean(harmful),
        }
    metrics["seconds_per_eval"] = report.seconds / len(items)
    metrics["tokens_per_eval"] = report.tokens / len(items)
    report.metrics = metrics
    return metrics


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def measure(
    evaluator: Evaluator,
    dataset: str,
    items: Sequence[LabelledAnswer],
    *,
    counters: Any = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> QualityReport:
    """Score ``items`` with ``evaluator`` and summarise (see ``summarise``)."""
    scores, seconds, tokens = score_items(evaluator, items, counters=counters, progress=progress)
    report = QualityReport(dataset, list(items), scores, seconds, tokens)
    summarise(report)
    return report
