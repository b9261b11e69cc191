"""The bench's arms: what each name means, its title in the report, and one arm's answer.

* ``rain``           (a) RAIN as implemented: KV caches reused, candidates and evaluations batched.
* ``reference``      (b) the same search decisions computed the reference's way
                     (``ReferenceCostBackend``: each forward from scratch, unbatched).
* ``vanilla``        (c) greedy decoding with a KV cache (``vanilla_generate``).
* ``paper_vanilla``  (d) greedy decoding without a KV cache, as the paper's baseline ran
                     (``use_cache=False``), capped at the same ``max_new_tokens`` as RAIN.
* ``adaptive``       (with ``--adaptive``) RAIN with the adaptive budget
                     (``SearchConfig.adaptive_commit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

RAIN, REFERENCE, VANILLA, PAPER_VANILLA, ADAPTIVE = (
    "rain",
    "reference",
    "vanilla",
    "paper_vanilla",
    "adaptive",
)
ARM_TITLES = {
    RAIN: "(a) RAIN",
    REFERENCE: "(b) RAIN, reference's way",
    VANILLA: "(c) vanilla, KV cache",
    PAPER_VANILLA: "(d) vanilla, no cache",
    ADAPTIVE: "RAIN, adaptive budget",
}


def short_name(arm: str) -> str:
    """The arm's letter in ratio names, e.g. "(a)"; the adaptive arm keeps its name."""
    return {RAIN: "(a)", REFERENCE: "(b)", VANILLA: "(c)", PAPER_VANILLA: "(d)"}.get(arm, arm)


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
