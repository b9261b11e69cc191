"""The bench's arms (the decoding methods it compares) and one arm's answer to one prompt.

The arms are entries of ``rain_guard.decoding.METHODS``, which says what each one is:
(a) ``rain``, (b) ``reference``, (c) ``vanilla``, (d) ``paper_vanilla``, and ``adaptive``
(with ``--adaptive``). Best-of-N is not an arm: its N follows RAIN's evaluations on the same
prompt, which ``rain-guard eval run`` tracks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rain_guard.decoding import METHODS

RAIN, REFERENCE, VANILLA, PAPER_VANILLA, ADAPTIVE = (
    "rain",
    "reference",
    "vanilla",
    "paper_vanilla",
    "adaptive",
)
ARMS = (RAIN, REFERENCE, VANILLA, PAPER_VANILLA, ADAPTIVE)  # the report's row order
ARM_TITLES = {arm: METHODS[arm].title for arm in ARMS}


def short_name(arm: str) -> str:
    """The arm's letter in ratio names, e.g. "(a)"; the adaptive arm keeps its name."""
    return METHODS[arm].short_name


@dataclass
class ArmRun:
    """One arm's answer to one prompt and what it cost."""

    arm: str
    dataset: str
    index: int
    label: str
    text: str
    answer_tokens: int
    seconds: float
    forward_calls: int
    tokens_processed: int
    evaluation_prompts: int = 0
    evaluation_cache_hits: int = 0
    prefix_tokens_reused: int = 0
    iterations: int = 0
    commits: int = 0
    stop_reason: str = ""
    refused: bool | None = None
    prompt_tokens: int = 0
    evaluation_prompt_tokens: int = 0
    peak_cache_bytes: int | None = None
    decisions: list[list[int]] = field(default_factory=list)
