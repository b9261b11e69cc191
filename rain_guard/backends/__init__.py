"""Backends: the only code that touches a language model."""

from rain_guard.backends.base import Backend, Candidate, ProposalRequest, WorkCounters
from rain_guard.backends.fake import FakeBackend

__all__ = ["Backend", "Candidate", "FakeBackend", "ProposalRequest", "WorkCounters"]
