"""Backends: the only code that touches a language model.

``FakeBackend`` (numpy) is imported on first use, so the served engine's modules load without
it; no engine's heavy dependencies (torch, transformers) load with this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rain_guard.backends.base import Backend, Candidate, ProposalRequest, WorkCounters

if TYPE_CHECKING:
    from rain_guard.backends.fake import FakeBackend


def __getattr__(name: str) -> Any:
    """``FakeBackend`` on first use."""
    if name != "FakeBackend":
        raise AttributeError(f"module 'rain_guard.backends' has no attribute {name!r}")
    from rain_guard.backends.fake import FakeBackend

    return FakeBackend


__all__ = ["Backend", "Candidate", "FakeBackend", "ProposalRequest", "WorkCounters"]
