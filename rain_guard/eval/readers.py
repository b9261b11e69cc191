"""Low-level row readers for the data file formats (CSV, JSON Lines, JSON, gzipped JSONL).

CSV files are opened with ``utf-8-sig`` so a UTF-8 byte-order mark (TruthfulQA v0 has one) never
ends up inside the first column name, and with ``newline=""`` so quoted fields spanning lines
and mixed CRLF/LF endings (HarmBench) are parsed correctly.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

from rain_guard.eval.errors import DatasetError


def read_csv(path: Path) -> list[dict[str, str]]:
    """All data rows of a CSV file with a header, as dicts keyed by column name."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def csv_columns(path: Path) -> list[str]:
    """The header of a CSV file (empty if the file is empty)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def _parse_json_lines(lines: list[str], path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}:{number}: not valid JSON ({error.msg})") from error
        if not isinstance(row, dict):
            raise DatasetError(f"{path}:{number}: expected a JSON object per line")
        rows.append(row)
    return rows


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All JSON objects of a JSON Lines file (``.gz`` is decompressed); blank lines skipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return _parse_json_lines(handle.read().split("\n"), path)


def read_json_list(path: Path) -> list[dict[str, Any]]:
    """A JSON file holding a list of objects."""
    with path.open(encoding="utf-8") as handle:
        rows = json.load(handle)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise DatasetError(f"{path}: expected a JSON list of objects")
    return rows
