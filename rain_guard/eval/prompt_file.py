"""Load a user's own prompts from a CSV or JSON Lines file as ``EvalItem`` objects.

Each item gets its split from the project's hash rule on the prompt text, so a prompt copied
from a benchmark keeps the split it has there (an evaluation row stays evaluation-only).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rain_guard.eval.datasets import EvalItem, check_limit
from rain_guard.eval.errors import DataNotFoundError, DatasetError
from rain_guard.eval.readers import csv_columns, read_csv, read_jsonl
from rain_guard.eval.splits import SplitChoice, check_split_choice, hash_split, wanted

_CSV = (".csv",)
_JSONL = (".jsonl", ".ndjson", ".gz")


def _read_rows(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of the file and the column names found in it (in first-seen order)."""
    suffix = path.suffix.lower()
    if suffix in _CSV:
        return read_csv(path), csv_columns(path)
    if suffix in _JSONL:
        rows = read_jsonl(path)
        return rows, list(dict.fromkeys(key for row in rows for key in row))
    raise DatasetError(f"{path}: unsupported file type {suffix!r}; use .csv or .jsonl")


def _prompt_of(row: dict[str, Any], column: str, number: int, path: Path, found: list[str]) -> str:
    value = row.get(column)
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(
            f"{path}: data row {number} has no text in column {column!r} (columns found: {found})"
        )
    return value


def load_prompt_file(
    path: str | os.PathLike[str],
    column: str = "prompt",
    *,
    split: SplitChoice = "all",
    limit: int | None = None,
    label_column: str = "label",
    dataset: str | None = None,
) -> list[EvalItem]:
    """Read prompts from a CSV (with header) or JSONL file of objects.

    Args:
        path: The file (``.csv``, ``.jsonl``, ``.ndjson`` or gzipped ``.jsonl.gz``).
        column: The column or key holding the prompt text.
        split: "all" (default), or only the rows the hash rule puts in "dev" or "eval".
        limit: Keep at most this many items.
        label_column: Optional column with "safe"/"unsafe" labels; empty values become None.
        dataset: Name stored in each item; defaults to the file name without extension.

    Raises:
        DatasetError: The column is missing (the message lists the columns found), a row has
            no prompt text, or the file type is unsupported.
        DataNotFoundError: The file does not exist.
    """
    check_split_choice(split)
    check_limit(limit)
    file = Path(path)
    if not file.is_file():
        raise DataNotFoundError(f"prompt file not found: {file}")
    rows, found = _read_rows(file)
    if column not in found:
        raise DatasetError(f"{file}: no column {column!r}; columns found: {found}")
    name = dataset or file.name.split(".")[0]
    items = []
    for index, row in enumerate(rows):
        prompt = _prompt_of(row, column, index, file, found)
        row_split = hash_split(prompt)
        if wanted(row_split, split):
            label = row.get(label_column) or None
            meta = {k: v for k, v in row.items() if k not in (column, label_column)}
            items.append(EvalItem(name, index, prompt, row_split, label, meta))
    return items if limit is None else items[:limit]
