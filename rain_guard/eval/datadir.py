"""Locate the shared evaluation data folder and the files in it.

The data are read-only public benchmark files kept outside the repository (``shared/data``),
so the folder is looked up rather than bundled: an explicit ``data_dir`` wins, then the
``RAIN_GUARD_DATA`` environment variable, then ``shared/data`` next to the repository or
next to the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from rain_guard.eval.errors import DataNotFoundError

ENV_VAR = "RAIN_GUARD_DATA"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def _candidates(data_dir: str | os.PathLike[str] | None) -> tuple[list[Path], str]:
    """Folders to try, in order, and a phrase saying where they came from."""
    if data_dir is not None:
        return [Path(data_dir)], "the data_dir argument"
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(env)], f"the {ENV_VAR} environment variable"
    defaults = [_REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    return defaults, "the default locations"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the evaluation data folder.

    Args:
        data_dir: An explicit folder; if ``None``, ``$RAIN_GUARD_DATA`` or the first existing
            of ``<repo>/../shared/data`` and ``<cwd>/../shared/data``.

    Raises:
        DataNotFoundError: No candidate folder exists; the message names every folder tried.
    """
    candidates, origin = _candidates(data_dir)
    for folder in candidates:
        if folder.is_dir():
            return folder
    tried = ", ".join(str(folder) for folder in candidates)
    raise DataNotFoundError(
        f"evaluation data folder not found (from {origin}); tried: {tried}. "
        f"Pass data_dir=... or set {ENV_VAR} to the folder holding dev_splits.json."
    )


def data_file(root: Path, relative: str) -> Path:
    """Return ``root / relative``, raising ``DataNotFoundError`` naming it if it is missing."""
    path = root / relative
    if not path.is_file():
        raise DataNotFoundError(f"data file {relative!r} not found in data folder {root}")
    return path
