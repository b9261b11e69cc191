"""Append-only JSON Lines results file that lets an interrupted evaluation resume.

Each finished item is one line, written with flush and ``os.fsync`` so a crash loses at most the
item in flight. A process killed mid-write can leave a truncated last line: readers ignore it,
and the first ``append`` repairs the file (cuts it back to the last complete line, or just adds
the missing newline when the tail is a whole JSON object) so new lines never get glued onto the
fragment. A record's key is ``(dataset, index, method)``; ``done_keys`` tells a rerun which
items to skip. One writer per file: concurrent writers are not coordinated.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rain_guard.eval.errors import ResultsError

Key = tuple[str, int, str]
KEY_FIELDS = ("dataset", "index", "method")


class _Keyed(Protocol):
    """Something with the ``dataset`` and ``index`` of a data row (e.g. an ``EvalItem``)."""

    @property
    def dataset(self) -> str: ...

    @property
    def index(self) -> int: ...


_Item = TypeVar("_Item", bound=_Keyed)


def record_key(record: Mapping[str, Any]) -> Key:
    """The ``(dataset, index, method)`` key of a record.

    Raises:
        ResultsError: A key field is missing or ``index`` is not an integer.
    """
    missing = [field for field in KEY_FIELDS if field not in record]
    if missing:
        raise ResultsError(f"result record lacks key fields {missing}")
    index = record["index"]
    if not isinstance(index, int) or isinstance(index, bool):
        raise ResultsError(f"result record index must be an int, got {index!r}")
    return str(record["dataset"]), index, str(record["method"])


def _parse_object(tail: bytes) -> dict[str, Any] | None:
    """The JSON object on one line, or ``None`` if it is a fragment or not an object."""
    try:
        value = json.loads(tail)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class ResultsFile:
    """Append-only JSONL file of result records keyed by ``(dataset, index, method)``.

    Args:
        path: The file; it and its folder are created on the first ``append``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._repaired = False

    def _split(self) -> tuple[bytes, bytes]:
        """File content up to and including the last newline, and the unterminated rest."""
        if not self.path.exists():
            return b"", b""
        data = self.path.read_bytes()
        cut = data.rfind(b"\n") + 1
        return data[:cut], data[cut:]

    def records(self) -> list[dict[str, Any]]:
        """All complete records in file order (a truncated last line is ignored).

        Raises:
            ResultsError: A newline-terminated line is not a JSON object (real corruption).
        """
        complete, tail = self._split()
        rows = []
        for number, line in enumerate(complete.split(b"\n")[:-1], start=1):
            if not line.strip():
                continue
            row = _parse_object(line)
            if row is None:
                raise ResultsError(f"{self.path}:{number}: corrupt line (not a JSON object)")
            rows.append(row)
        last = _parse_object(tail) if tail.strip() else None
        return rows + ([last] if last is not None else [])

    def done_keys(self) -> set[Key]:
        """Keys of the complete records already in the file."""
        return {record_key(record) for record in self.records()}

    def pending(self, items: Iterable[_Item], method: str) -> list[_Item]:
        """The items (with ``dataset`` and ``index`` attributes) not yet done for ``method``."""
        done = self.done_keys()
        return [item for item in items if (item.dataset, item.index, method) not in done]

    def _repair(self) -> None:
        """Cut a truncated last line, or terminate a complete one, before the first append."""
        complete, tail = self._split()
        if tail:
            with self.path.open("r+b") as handle:
                if _parse_object(tail) is not None:
                    handle.seek(0, os.SEEK_END)
                    handle.write(b"\n")
                else:
                    handle.truncate(len(complete))
                handle.flush()
                os.fsync(handle.fileno())
        self._repaired = True

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a line, then flush and fsync it to disk.

        Raises:
            ResultsError: The record lacks a key field.
            TypeError: The record is not JSON-serialisable (nothing is written).
        """
        record_key(record)
        line = json.dumps(dict(record), ensure_ascii=False).encode("utf-8") + b"\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._repaired:
            self._repair()
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
