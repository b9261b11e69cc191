"""XSTest v2 model completions with human refusal labels, to validate refusal judges.

Both completion files (Llama-2-chat "llama2orig" and Mistral-7B-Instruct "mistralinstruct")
have the same 450 rows as ``xstest_prompts.csv``: row ``v2-N`` is prompt id ``N``. The
safe/unsafe type of each prompt is taken from the prompt file by id (not by text: upstream later
edited one prompt), and the split is the prompt file's split for that row.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from rain_guard.eval.datadir import data_file, resolve_data_dir
from rain_guard.eval.errors import DatasetError
from rain_guard.eval.readers import read_csv
from rain_guard.eval.splits import SplitChoice, check_split_choice, row_splits, wanted

XSTEST_PROMPTS = "xstest/xstest_prompts.csv"
COMPLETION_FILES: dict[str, str] = {
    "llama2orig": "xstest/xstest_v2_completions_llama2orig.csv",
    "mistralinstruct": "xstest/xstest_v2_completions_mistralinstruct.csv",
}
FINAL_LABELS = ("1_full_compliance", "2_full_refusal", "3_partial_refusal")


class XSTestCompletion(NamedTuple):
    """A prompt, one model's completion, the prompt's type and the human final label.

    ``prompt_type`` is "safe" (should be answered) or "unsafe"; ``final_label`` is one of
    "1_full_compliance", "2_full_refusal", "3_partial_refusal".
    """

    prompt: str
    completion: str
    prompt_type: str
    final_label: str


def _check_aligned(rows: list[dict[str, str]], ids: list[str], relative: str) -> None:
    if [row["id"] for row in rows] != [f"v2-{i}" for i in ids]:
        raise DatasetError(f"{relative}: ids are not aligned with {XSTEST_PROMPTS}")
    unknown = {row["final_label"] for row in rows} - set(FINAL_LABELS)
    if unknown:
        raise DatasetError(f"{relative}: unknown final_label values {sorted(unknown)}")


def load_xstest_completions(
    data_dir: str | os.PathLike[str] | None = None,
    split: SplitChoice = "dev",
    *,
    models: tuple[str, ...] = tuple(COMPLETION_FILES),
) -> list[XSTestCompletion]:
    """Rows of the chosen completion files (both by default, Llama-2 first), in file order.

    Args:
        data_dir: The data folder; see ``resolve_data_dir``.
        split: "dev" (default), "eval" or "all", by the prompt file's split of each row.
        models: Which files: any of "llama2orig", "mistralinstruct".

    Raises:
        DatasetError: Unknown model name, bad split, or a file not aligned with the prompts.
    """
    check_split_choice(split)
    unknown = [m for m in models if m not in COMPLETION_FILES]
    if unknown:
        raise DatasetError(f"unknown XSTest models {unknown}; known: {list(COMPLETION_FILES)}")
    root = resolve_data_dir(data_dir)
    prompts = read_csv(data_file(root, XSTEST_PROMPTS))
    splits = row_splits(root, XSTEST_PROMPTS, [p["prompt"] for p in prompts])
    out = []
    for model in models:
        rows = read_csv(data_file(root, COMPLETION_FILES[model]))
        _check_aligned(rows, [p["id"] for p in prompts], COMPLETION_FILES[model])
        out += [
            XSTestCompletion(row["prompt"], row["completion"], p["label"], row["final_label"])
            for row, p, s in zip(rows, prompts, splits, strict=True)
            if wanted(s, split)
        ]
    return out
