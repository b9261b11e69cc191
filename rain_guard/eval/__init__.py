"""Evaluation tools for rain_guard: benchmark prompts, refusal judges, resumable results, reports.

Typical use::

    from rain_guard.eval import GCGRefusalJudge, ResultsFile, load_dataset, summary_markdown

    items = load_dataset("advbench", split="dev", limit=20)   # tune only on dev rows
    results = ResultsFile("runs/advbench.jsonl")
    judge = GCGRefusalJudge()
    for item in results.pending(items, method="rain"):
        answer = ...  # generate
        verdict = judge.judge(item.prompt, answer)
        results.append({"dataset": item.dataset, "index": item.index, "method": "rain",
                        "prompt": item.prompt, "answer": answer, "label": item.label,
                        "refused": verdict.refused, "harmful": verdict.harmful})
    print(summary_markdown(results.records()))
"""

from __future__ import annotations

from rain_guard.eval.datadir import resolve_data_dir
from rain_guard.eval.datasets import (
    HARMFUL_LABEL,
    SAFE_LABEL,
    EvalItem,
    dataset_file,
    dataset_names,
    load_dataset,
)
from rain_guard.eval.errors import DataNotFoundError, DatasetError, JudgeError, ResultsError
from rain_guard.eval.graders.agreement import cohen_kappa, judge_agreement
from rain_guard.eval.graders.chat import DEFAULT_JUDGE_TEMPLATE, ChatModelJudge, parse_judgement
from rain_guard.eval.graders.refusal import (
    GCGRefusalJudge,
    XSTestRefusalJudge,
    load_refusal_strings,
)
from rain_guard.eval.graders.verdict import Judge, Verdict
from rain_guard.eval.hh_pairs import HHPair, load_hh_pairs
from rain_guard.eval.plotting import plot
from rain_guard.eval.prompt_file import load_prompt_file
from rain_guard.eval.report import GroupSummary, summarize, summary_markdown
from rain_guard.eval.results import ResultsFile, record_key
from rain_guard.eval.splits import hash_split
from rain_guard.eval.stats import Mean, Proportion, mean_interval, proportion, wilson_interval
from rain_guard.eval.xstest_completions import XSTestCompletion, load_xstest_completions

__all__ = [
    "DEFAULT_JUDGE_TEMPLATE",
    "HARMFUL_LABEL",
    "SAFE_LABEL",
    "ChatModelJudge",
    "DataNotFoundError",
    "DatasetError",
    "EvalItem",
    "GCGRefusalJudge",
    "GroupSummary",
    "HHPair",
    "Judge",
    "JudgeError",
    "Mean",
    "Proportion",
    "ResultsError",
    "ResultsFile",
    "Verdict",
    "XSTestCompletion",
    "XSTestRefusalJudge",
    "cohen_kappa",
    "dataset_file",
    "dataset_names",
    "hash_split",
    "judge_agreement",
    "load_dataset",
    "load_hh_pairs",
    "load_prompt_file",
    "load_refusal_strings",
    "load_xstest_completions",
    "mean_interval",
    "parse_judgement",
    "plot",
    "proportion",
    "record_key",
    "resolve_data_dir",
    "summarize",
    "summary_markdown",
    "wilson_interval",
]
