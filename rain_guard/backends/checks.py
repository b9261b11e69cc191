"""Checks of the protocol calls' arguments that every engine makes the same way."""

from __future__ import annotations

from rain_guard.backends.base import ProposalRequest
from rain_guard.errors import BackendError


def check_request(req: ProposalRequest) -> None:
    """A proposal asks for >= 1 set of >= 1 token from a pool of >= 1, at a temperature > 0.

    Raises:
        BackendError: naming the field out of range.
    """
    if req.num_candidates < 1 or req.length < 1 or req.top_k < 1:
        raise BackendError(f"num_candidates, length and top_k must be >= 1, got {req}")
    if not req.temperature > 0:
        raise BackendError(f"temperature must be > 0, got {req.temperature}")


def check_rollout_temperature(temperature: float) -> None:
    """Roll-outs take a temperature >= 0 (0: greedy).

    Raises:
        BackendError: a negative (or NaN) temperature.
    """
    if not temperature >= 0:
        raise BackendError(f"roll-out temperature must be >= 0 (0: greedy), got {temperature}")
