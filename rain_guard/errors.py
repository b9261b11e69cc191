"""Typed errors: every failure rain_guard reports on purpose is a RainGuardError.

Catching ``RainGuardError`` catches all of them; the subclasses say which input was wrong so a
caller can react (ask the user again, pick another model) without parsing messages.
"""

from __future__ import annotations


class RainGuardError(Exception):
    """Base class of every error rain_guard raises on purpose."""


class ConfigError(RainGuardError, ValueError):
    """A search setting is out of range or inconsistent (e.g. ``t_min > t_max``)."""


class PromptError(RainGuardError, ValueError):
    """The prompt or messages cannot be answered.

    They are empty, of the wrong type, too long, or hold content the model cannot read
    (images, audio, files).
    """


class CriterionError(RainGuardError, ValueError):
    """An evaluation criterion is malformed: unknown name, missing placeholder, bad labels."""


class BudgetError(RainGuardError, RuntimeError):
    """A budget (``timeout``, ``max_model_tokens``) ran out before any text was committed.

    ChatRAIN raises it instead of returning an empty answer; an answer cut short after some
    text was committed comes back with ``response_metadata["budget_exhausted"]``.
    """


class UnsupportedError(RainGuardError, NotImplementedError):
    """A LangChain feature ChatRAIN cannot honour: tool calling, structured output.

    The message says why and shows the pattern that works (a tool-calling model guarded by
    ``RainGuardMiddleware`` or ``RainGuardNode``).
    """


class ModelNotFoundError(RainGuardError, FileNotFoundError):
    """No model could be found for the given name or path."""


class ModelLoadError(RainGuardError, RuntimeError):
    """A model was found but could not be loaded (corrupt file, missing dependency)."""


class ClassifierFileError(ModelLoadError, ValueError):
    """A learned judge's weights file is corrupt, of another format, or has other classes."""


class BackendError(RainGuardError, RuntimeError):
    """The language-model backend failed while serving a request."""


class ResumeError(RainGuardError, LookupError):
    """A checkpointed generation cannot be resumed.

    There is no checkpoint for the thread, or it was made for other messages, other settings
    (budgets excepted) or another model.
    """


class BenchReportError(RainGuardError, ValueError):
    """A ``rain-guard bench`` JSON report cannot be read or merged with another.

    It is not a bench report, or reports to merge were made with other settings or answer the
    same prompt with the same arm twice.
    """
