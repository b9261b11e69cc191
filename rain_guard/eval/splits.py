"""The project's dev/eval split: a hash of the normalised text, fixed in ``dev_splits.json``.

Only dev rows may be used for tuning; all others are reserved for the final evaluation. The
rule depends only on the text, so an identical prompt gets the same split in every file:

    DEV iff int(sha256(("rain-dev-v1|" + " ".join(text.split()).lower()).encode())
                .hexdigest()[:8], 16) % 5 == 0
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from rain_guard.eval.datadir import data_file
from rain_guard.eval.errors import DatasetError

Split = Literal["dev", "eval"]
SplitChoice = Literal["dev", "eval", "all"]
SPLIT_CHOICES: tuple[str, ...] = ("dev", "eval", "all")
SALT = "rain-dev-v1|"
MODULUS = 5


def normalise(text: str) -> str:
    """Collapse whitespace and lower-case, as the split rule does before hashing."""
    return " ".join(text.split()).lower()


def hash_split(text: str) -> Split:
    """Split of one text under the hash rule (``"dev"`` for about 20% of texts)."""
    digest = hashlib.sha256((SALT + normalise(text)).encode("utf-8")).hexdigest()
    return "dev" if int(digest[:8], 16) % MODULUS == 0 else "eval"


def check_split_choice(split: str) -> None:
    """Raise ``DatasetError`` unless ``split`` is "dev", "eval" or "all"."""
    if split not in SPLIT_CHOICES:
        raise DatasetError(f"split must be one of {SPLIT_CHOICES}, got {split!r}")


def wanted(row_split: Split, choice: SplitChoice) -> bool:
    """True when a row of split ``row_split`` belongs to the requested ``choice``."""
    return choice == "all" or row_split == choice


@lru_cache(maxsize=8)
def _splits_table(path: Path) -> dict[str, dict]:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)["files"]


def split_entry(root: Path, relative: str) -> tuple[int, frozenset[int]]:
    """Row count and 0-based dev row indices that ``dev_splits.json`` lists for a file.

    Raises:
        DatasetError: The file has no entry in ``dev_splits.json``.
    """
    table = _splits_table(data_file(root, "dev_splits.json").resolve())
    if relative not in table:
        raise DatasetError(f"dev_splits.json has no entry for {relative!r}")
    entry = table[relative]
    return int(entry["n_rows"]), frozenset(entry["dev_row_indices"])


def row_splits(root: Path, relative: str, keys: list[str]) -> list[Split]:
    """Split of each data row of a file, from ``dev_splits.json``, cross-checked by hash.

    The cross-check guards against a reordered or edited file silently mapping the listed
    indices onto the wrong rows (which would leak evaluation rows into dev).

    Args:
        root: The data folder.
        relative: The file's path inside it (its key in ``dev_splits.json``).
        keys: The split key text of every data row, in file order.

    Raises:
        DatasetError: Row count or any row's split disagrees with the hash rule.
    """
    n_rows, dev = split_entry(root, relative)
    if len(keys) != n_rows:
        raise DatasetError(f"{relative}: read {len(keys)} rows, dev_splits.json says {n_rows}")
    splits: list[Split] = ["dev" if index in dev else "eval" for index in range(n_rows)]
    for index, (key, listed) in enumerate(zip(keys, splits, strict=True)):
        if hash_split(key) != listed:
            raise DatasetError(
                f"{relative}: row {index} is {listed} in dev_splits.json "
                "but the hash rule disagrees; the file order changed?"
            )
    return splits
