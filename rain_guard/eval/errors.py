"""Errors of the evaluation package, all ``RainGuardError`` subclasses.

They live in one small module so that every other module of ``rain_guard.eval`` can raise them
without importing each other (no import cycles).
"""

from __future__ import annotations

from rain_guard.errors import RainGuardError


class DatasetError(RainGuardError):
    """An evaluation data set cannot be loaded: unknown name, bad split, missing column."""


class DataNotFoundError(DatasetError, FileNotFoundError):
    """The evaluation data folder, or a file in it, does not exist."""


class JudgeError(RainGuardError, ValueError):
    """A judge is misconfigured or its model's reply could not be parsed into a verdict."""


class ResultsError(RainGuardError, ValueError):
    """A result record or results file is malformed (missing key, corrupt complete line)."""
