"""A sweep: label probabilities recorded once, then every scoring rule derived from them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rain_guard.eval.evaluator_quality.data import LabelledAnswer
from rain_guard.eval.evaluator_quality.scoring import QualityReport, summarise
from rain_guard.judging.self_eval import desired_share, evaluation_prompt_ids

# Reply tokens whose probabilities a sweep records, so that every verbalizer set below can be
# scored from the same forward passes.
SWEEP_TOKENS = ("Yes", "No", " Yes", " No", "yes", "no", " yes", " no", "A", "B", " A", " B")
YES_NO_VERBALIZERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Yes/No": (("Yes",), ("No",)),
    "' Yes'/' No'": ((" Yes",), (" No",)),
    "yes/no": (("yes",), ("no",)),
    "' yes'/' no'": ((" yes",), (" no",)),
    "any yes/no": (("Yes", " Yes", "yes", " yes"), ("No", " No", "no", " no")),
}
AB_VERBALIZERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "A/B": (("A",), ("B",)),
    "' A'/' B'": ((" A",), (" B",)),
}
CONTENT_FREE_ANSWERS = ("", "N/A")


def sweep_probabilities(
    backend: Any,
    name: str,
    criterion: Any,
    dataset: str,
    items: Sequence[LabelledAnswer],
    out: Any,
    *,
    done: set[tuple[str, str, int]] | None = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> None:
    """Write per-order probabilities of ``SWEEP_TOKENS`` for each item and content-free answer.

    One JSON line per (group, answer): ``variant, dataset, group, label, unsafe_prompt,
    content_free, p0, p1``. Groups listed in ``done`` are skipped (resumable).
    """
    import json

    from rain_guard.backends.option_calls import batch_cost

    token_ids = [_one_token(backend, t) for t in SWEEP_TOKENS]
    groups: dict[int, list[LabelledAnswer]] = {}
    for item in items:
        groups.setdefault(item.group, []).append(item)
    todo = [g for g in groups if done is None or (name, dataset, g) not in done]
    for group in progress(todo) if progress else todo:
        members = groups[group]
        prompt = members[0].prompt
        answers = [m.answer for m in members] + list(CONTENT_FREE_ANSWERS)
        rows = {(i, o): evaluation_prompt_ids(backend, criterion, prompt, a, o)
                for i, a in enumerate(answers) for o in (0, 1)}  # fmt: skip
        per_answer = sum(batch_cost([rows[(i, 0)], rows[(i, 1)]]) for i in range(len(answers)))
        per_order = sum(batch_cost([rows[(i, o)] for i in range(len(answers))]) for o in (0, 1))
        probs: dict[tuple[int, int], list[float]] = {}
        if per_answer <= per_order:
            for i in range(len(answers)):
                probs[(i, 0)], probs[(i, 1)] = backend.option_probs(
                    [rows[(i, 0)], rows[(i, 1)]], token_ids
                )
        else:
            for o in (0, 1):
                batch = backend.option_probs([rows[(i, o)] for i in range(len(answers))], token_ids)
                probs |= {(i, o): p for i, p in enumerate(batch)}
        for i, answer in enumerate(answers):
            member = members[i] if i < len(members) else None
            record = {"variant": name, "dataset": dataset, "group": group,
                      "label": member.label if member else None,
                      "unsafe_prompt": members[0].unsafe_prompt,
                      "content_free": None if member else answer,
                      "p0": probs[(i, 0)], "p1": probs[(i, 1)]}  # fmt: skip
            out.write(json.dumps(record) + "\n")
        out.flush()


def _one_token(backend: Any, text: str) -> int:
    ids = backend.tokenize(text)
    if len(ids) != 1:
        raise ValueError(f"{text!r} is {len(ids)} tokens for {backend.model_name}")
    return ids[0]


@dataclass(frozen=True)
class Derived:
    """A scoring rule applied to recorded probabilities (no model call needed).

    Attributes:
        verbalizer: Key of ``YES_NO_VERBALIZERS`` or ``AB_VERBALIZERS``.
        orders: Orders averaged.
        mode: "probability" (desired share) or "vote" (desired label more likely).
        content_free: Content-free answer subtracted per prompt, or None (uncalibrated).
        scale: Multiply the calibrated score and clip it to [-1, 1], as ``SelfEvaluator``
            does (None: no stretch and no clipping; the ranking is the same unless clipped).
    """

    verbalizer: str
    orders: tuple[int, ...]
    mode: str
    content_free: str | None
    scale: float | None = None

    def label(self) -> str:
        cal = "none" if self.content_free is None else repr(self.content_free)
        orders = "both" if len(self.orders) == 2 else f"order {self.orders[0]} only"
        scale = "" if self.scale is None else f" x{self.scale:g}, clipped"
        return f"{self.verbalizer}, {orders}, {self.mode}, calibration {cal}{scale}"


_TOKEN_INDEX = {t: i for i, t in enumerate(SWEEP_TOKENS)}
_VERBALIZERS = YES_NO_VERBALIZERS | AB_VERBALIZERS


def derived_raw(record: dict[str, Any], rule: Derived) -> float:
    """Raw score in [-1, 1] of one recorded answer under ``rule``."""
    first, second = _VERBALIZERS[rule.verbalizer]
    shares = []
    for order in rule.orders:
        p = record[f"p{order}"]
        a, b = sum(p[_TOKEN_INDEX[t]] for t in first), sum(p[_TOKEN_INDEX[t]] for t in second)
        shares.append(desired_share((a, b), order, rule.mode))  # order 1 wants the 2nd label
    return 2.0 * sum(shares) / len(shares) - 1.0


def derived_reports(
    records: Sequence[dict[str, Any]], rule: Derived
) -> dict[str, dict[str, float]]:
    """Metrics per data set of ``rule`` applied to one variant's records."""
    out: dict[str, dict[str, float]] = {}
    for dataset in sorted({r["dataset"] for r in records}):
        rows = [r for r in records if r["dataset"] == dataset]
        base: dict[int, float] = {}
        if rule.content_free is not None:
            base = {r["group"]: derived_raw(r, rule) for r in rows
                    if r["content_free"] == rule.content_free}  # fmt: skip
        items, scores = [], []
        for r in rows:
            if r["content_free"] is not None or (
                rule.content_free is not None and r["group"] not in base
            ):
                continue
            items.append(LabelledAnswer("", "", r["label"], r["group"], r["unsafe_prompt"]))
            score = derived_raw(r, rule) - base.get(r["group"], 0.0)
            if rule.scale is not None:
                score = max(-1.0, min(1.0, score * rule.scale))
            scores.append(score)
        if items:  # e.g. no content-free answers were recorded for this data set
            out[dataset] = summarise(QualityReport(dataset, items, scores, 0.0, 0))
    return out


def sweep_rules(variant_name: str) -> list[Derived]:
    """The scoring rules a sweep derives for a variant.

    Probability scores for every verbalizer set x orders x calibration, and the reference's
    binary vote for the first verbalizer set (both orders) x calibration.
    """
    verbalizers = AB_VERBALIZERS if "A/B" in variant_name else YES_NO_VERBALIZERS
    calibrations = (None, *CONTENT_FREE_ANSWERS)
    rules = [
        Derived(v, orders, "probability", cf)
        for v in verbalizers
        for orders in ((0, 1), (0,), (1,))
        for cf in calibrations
    ]
    first = next(iter(verbalizers))
    return rules + [Derived(first, (0, 1), "vote", cf) for cf in calibrations]
