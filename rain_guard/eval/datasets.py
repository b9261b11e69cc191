"""Evaluation prompt sets as ``EvalItem`` lists, with the project's dev/eval split applied.

``load_dataset("advbench", split="dev")`` returns the AdvBench prompts that developers may tune
on; ``split="eval"`` returns the held-out rows (for the final evaluation only) and ``"all"``
both. Every item keeps its 0-based data row (``index``) in the source file so results can be
traced back and resumed. ``label`` is ``"unsafe"`` for a harmful request that should be refused,
``"safe"`` for one that should be answered (XSTest safe rows) and ``None`` where the set has no
per-prompt label (HH harmless-base prompts are harm-seeking but mixed; TruthfulQA is not a
safety set), in which case a judge must decide harmfulness.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from rain_guard.eval.datadir import data_file, resolve_data_dir
from rain_guard.eval.errors import DataNotFoundError, DatasetError
from rain_guard.eval.readers import read_csv, read_json_list, read_jsonl
from rain_guard.eval.splits import Split, SplitChoice, check_split_choice, row_splits, wanted

__all__ = [
    "DataNotFoundError",
    "DatasetError",
    "EvalItem",
    "HARMFUL_LABEL",
    "SAFE_LABEL",
    "dataset_names",
    "load_dataset",
]

HARMFUL_LABEL = "unsafe"
SAFE_LABEL = "safe"


@dataclass(frozen=True)
class EvalItem:
    """One prompt to answer.

    Attributes:
        dataset: The data set name given to ``load_dataset`` (or the file stem).
        index: 0-based data row in the source file (header excluded).
        prompt: The text to send to the model.
        split: "dev" (may be tuned on) or "eval" (reserved for the final evaluation).
        label: "unsafe" (should be refused), "safe" (should be answered) or ``None``.
        meta: The row's other fields (category, ids, the attack suffix, ...).
    """

    dataset: str
    index: int
    prompt: str
    split: Split
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, hash=False)


class _Row(NamedTuple):
    """A parsed data row: the prompt, its label, extra fields and the split key text."""

    prompt: str
    label: str | None
    meta: dict[str, Any]
    key: str


@dataclass(frozen=True)
class _Spec:
    """Where a data set lives and how its rows become prompts."""

    file: str
    rows: Callable[[Path], list[_Row]]
    keep: Callable[[_Row], bool] = lambda row: True


def _advbench(path: Path) -> list[_Row]:
    # The upstream `target` column is left out: rows 61, 63 and 64 have rotated targets.
    return [_Row(r["goal"], HARMFUL_LABEL, {}, r["goal"]) for r in read_csv(path)]


def _advbench_gcg(path: Path) -> list[_Row]:
    rows = []
    for r in read_json_list(path):
        meta = {k: v for k, v in r.items() if k not in ("goal", "controls")}
        meta |= {"goal": r["goal"], "controls": r["controls"]}
        rows.append(_Row(f"{r['goal']} {r['controls']}", HARMFUL_LABEL, meta, r["goal"]))
    return rows


def _harmbench_prompt(behavior: str, context: str) -> str:
    """HarmBench's own layout for contextual behaviours: context, a rule, then the request."""
    return f"{context}\n\n---\n\n{behavior}" if context.strip() else behavior


def _harmbench(path: Path) -> list[_Row]:
    rows = []
    for r in read_csv(path):
        meta = {
            "behavior": r["Behavior"],
            "context": r["ContextString"],
            "functional_category": r["FunctionalCategory"],
            "semantic_category": r["SemanticCategory"],
            "tags": r["Tags"],
            "behavior_id": r["BehaviorID"],
        }
        prompt = _harmbench_prompt(r["Behavior"], r["ContextString"])
        rows.append(_Row(prompt, HARMFUL_LABEL, meta, r["Behavior"]))
    return rows


def _jbb(path: Path) -> list[_Row]:
    return [
        _Row(r["goal"], HARMFUL_LABEL, {k: v for k, v in r.items() if k != "goal"}, r["goal"])
        for r in read_csv(path)
    ]


def _jbb_gcg(path: Path) -> list[_Row]:
    return [
        _Row(r["prompt"], HARMFUL_LABEL, {k: v for k, v in r.items() if k != "prompt"}, r["goal"])
        for r in read_jsonl(path)
    ]


def _xstest(path: Path) -> list[_Row]:
    # XSTest's `type` holds 18 categories; the safe/unsafe label is in the `label` column.
    rows = []
    for r in read_csv(path):
        meta = {k: r[k] for k in ("id", "type", "focus", "note")}
        rows.append(_Row(r["prompt"], r["label"], meta, r["prompt"]))
    return rows


def _hh_prompts(path: Path) -> list[_Row]:
    return [
        _Row(r["prompt"], None, {k: v for k, v in r.items() if k != "prompt"}, r["prompt"])
        for r in read_jsonl(path)
    ]


def _truthfulqa_meta(r: dict[str, str]) -> dict[str, Any]:
    def answers(text: str) -> list[str]:
        return [a.strip() for a in text.split(";") if a.strip()]

    return {
        "type": r["Type"],
        "category": r["Category"],
        "best_answer": r["Best Answer"],
        "correct_answers": answers(r["Correct Answers"]),
        "incorrect_answers": answers(r["Incorrect Answers"]),
        "source": r["Source"],
    }


def _truthfulqa(path: Path) -> list[_Row]:
    return [_Row(r["Question"], None, _truthfulqa_meta(r), r["Question"]) for r in read_csv(path)]


_XSTEST = "xstest/xstest_prompts.csv"
_SPECS: dict[str, _Spec] = {
    "advbench": _Spec("advbench/harmful_behaviors.csv", _advbench),
    "advbench-gcg": _Spec("advbench/gcg_individual_llama2_controls_unofficial.json", _advbench_gcg),
    "harmbench": _Spec("harmbench/harmbench_behaviors_text_all.csv", _harmbench),
    "jailbreakbench": _Spec("jailbreakbench/jbb_behaviors_from_artifacts.csv", _jbb),
    "jailbreakbench-gcg": _Spec("jailbreakbench/jbb_gcg_suffixes.jsonl", _jbb_gcg),
    "xstest": _Spec(_XSTEST, _xstest),
    "xstest-safe": _Spec(_XSTEST, _xstest, lambda row: row.label == SAFE_LABEL),
    "xstest-unsafe": _Spec(_XSTEST, _xstest, lambda row: row.label == HARMFUL_LABEL),
    "hh-harmless": _Spec("hh_rlhf/harmless_base_test_prompts.jsonl", _hh_prompts),
    "truthfulqa": _Spec("truthfulqa/TruthfulQA_v0_013686a.csv", _truthfulqa),
}


def dataset_names() -> tuple[str, ...]:
    """Names accepted by ``load_dataset``."""
    return tuple(_SPECS)


def dataset_file(name: str) -> str:
    """Path of a data set's source file inside the data folder (its key in dev_splits.json)."""
    return _spec(name).file


def _spec(name: str) -> _Spec:
    if name not in _SPECS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(_SPECS)}")
    return _SPECS[name]


def check_limit(limit: int | None) -> None:
    """Raise ``DatasetError`` unless ``limit`` is ``None`` or a non-negative int."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise DatasetError(f"limit must be None or a non-negative int, got {limit!r}")


def load_dataset(
    name: str,
    *,
    split: SplitChoice = "dev",
    limit: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> list[EvalItem]:
    """Load a named prompt set, keeping the rows of the requested split in file order.

    Args:
        name: One of ``dataset_names()``: "advbench", "advbench-gcg", "harmbench",
            "jailbreakbench", "jailbreakbench-gcg", "xstest", "xstest-safe", "xstest-unsafe",
            "hh-harmless", "truthfulqa".
        split: "dev" (default: the rows you may tune on), "eval" or "all".
        limit: Keep at most this many items (after the split filter).
        data_dir: The data folder; see ``resolve_data_dir`` for the default.

    Raises:
        DatasetError: Unknown name or split, or the file disagrees with dev_splits.json.
        DataNotFoundError: The data folder or file is missing.
    """
    spec = _spec(name)
    check_split_choice(split)
    check_limit(limit)
    root = resolve_data_dir(data_dir)
    rows = spec.rows(data_file(root, spec.file))
    splits = row_splits(root, spec.file, [row.key for row in rows])
    items = [
        EvalItem(name, index, row.prompt, row_split, row.label, row.meta)
        for index, (row, row_split) in enumerate(zip(rows, splits, strict=True))
        if wanted(row_split, split) and spec.keep(row)
    ]
    return items if limit is None else items[:limit]
