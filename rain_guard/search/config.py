"""SearchConfig: every number RAIN uses, named, documented and validated in one place.

Defaults equal the reference implementation (SafeAILab/RAIN, HH/main.py and HH/nodes.py) so that
``SearchConfig()`` is "faithful mode". Budgets (``max_new_tokens``, ``rollout_max_tokens``) are
ours: the reference generates up to 2048 tokens with no other limit.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rain_guard.errors import ConfigError

WHOLE_ANSWER_TOP_K = 50  # sampling pool (tokens per step) of whole answers: best-of-N's draws


class SearchConfig(BaseModel):
    """Settings of one RAIN search. Immutable; ``replace(**changes)`` builds a checked copy.

    Raises:
        ConfigError: on construction, if a setting is out of range or inconsistent.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    t_min: int = Field(6, ge=1, description="Inner iterations before a commit may happen (T_m).")
    t_max: int = Field(50, ge=1, description="Inner iterations after which a commit is forced (T).")
    v_threshold: float = Field(
        0.8,
        ge=-1.0,
        le=1.0,
        description="Commit early once the most-visited root child has V >= this (in [-1, 1]).",
    )
    c_puct: float = Field(2.0, ge=0.0, description="Exploration weight c of the selection formula.")
    num_candidates: int = Field(
        10, ge=1, le=256, description="Candidate token sets proposed per expanded leaf (q)."
    )
    top_k: int = Field(
        15, ge=1, description="Sampling pool of multi-token candidates: the top-k tokens per step."
    )
    set_lengths: tuple[int, ...] = Field(
        (1, 2, 4, 10),
        min_length=1,
        description="Token-set length by answer depth: depth 0, 1, 2, then the last one.",
    )
    root_prior_mix: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="Root priors are mix * p + (1 - mix) * uniform, giving rare paths a chance.",
    )
    similarity_threshold: float = Field(
        0.95,
        ge=0.0,
        le=1.0,
        description="Cosine similarity above which a sibling shares an update.",
    )
    similarity_weight: float = Field(
        0.2, ge=0.0, le=1.0, description="Weight (gamma) of a similarity update: N += weight * s."
    )
    use_similarity: bool = Field(True, description="Switch the embedding similarity update on/off.")
    dynamic_node_addition: bool = Field(
        True, description="Add candidates when a node's children are alike and all bad."
    )
    dynamic_variance_scale: float = Field(
        0.03,
        ge=0.0,
        description="Children are 'alike' if their embedding variance norm < scale * set length.",
    )
    dynamic_value_ceiling: float = Field(
        0.0, ge=-1.0, le=1.0, description="Children are 'all bad' if their best value < this."
    )
    max_children: int = Field(
        20, ge=1, description="Dynamic node addition stops once a node has this many children."
    )
    sentence_boundaries: str = Field(
        ",.?:;\n",
        min_length=1,
        description="Characters that end the roll-out before an evaluation.",
    )
    rollout_max_tokens: int = Field(
        32, ge=0, description="Longest roll-out (tokens) towards a sentence boundary."
    )
    max_new_tokens: int = Field(128, ge=1, description="Budget: committed answer tokens at most.")
    max_seconds: float | None = Field(
        None, gt=0.0, description="Budget: wall time per answer; the answer so far is returned."
    )
    max_model_tokens: int | None = Field(
        None, ge=1, description="Budget: tokens the model may process per answer (all calls)."
    )
    temperature: float = Field(
        1.0, gt=0.0, le=10.0, description="Sampling temperature of candidates and roll-outs."
    )
    seed: int = Field(
        0, description="Seed of every random draw in the search: same seed, same answer."
    )
    t_min_schedule: tuple[int, ...] = Field(
        (),
        description=(
            "T_min by commit: the first commit uses the first value, the next the next, the "
            "last value repeats; empty: t_min for every commit."
        ),
    )
    t_max_schedule: tuple[int, ...] = Field(
        (),
        description=(
            "T by commit, like t_min_schedule (e.g. 50 50 50 12: the reference budget for the "
            "first three commits, where refusals are decided, less after); empty: t_max."
        ),
    )
    parallel_leaves: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "Leaves selected, expanded, rolled out and evaluated together per pass (k); "
            "1 is RAIN as published, one leaf per iteration."
        ),
    )
    graft_rollouts: bool = Field(
        False,
        description=(
            "Keep each judged roll-out in the tree as a chain of token sets below its leaf, "
            "so that a draft a roll-out found good can be followed and committed (a commit "
            "takes the child holding the best-scored draft), and draw whole answers from the "
            "root as best-of-N draws them while its children are all valued alike and bad "
            "(for sparse judges, e.g. +-1 rules). Off: RAIN as published, roll-outs leave no "
            "trace."
        ),
    )
    stop_when_decided: bool = Field(
        False,
        description=(
            "End a commit's search once the most-visited root child leads every other by more "
            "visits than the iterations left before T could add: the commit takes the same "
            "child, with fewer iterations below it. Off: RAIN as published, T iterations."
        ),
    )
    # Adaptive budget (ours, not the paper's; off = faithful mode). Benign answers are usually
    # judged good at the first evaluation, so waiting for T_min iterations mostly buys nothing.
    adaptive_commit: bool = Field(
        False,
        description="Adaptive budget: commit before T_min if the best root child is clearly good.",
    )
    adaptive_min_iterations: int = Field(
        1,
        ge=1,
        description="Adaptive budget: iterations at the root (as T_min counts them) to wait.",
    )
    adaptive_value: float = Field(
        0.5,
        ge=-1.0,
        le=1.0,
        description="Adaptive budget: the best root child's value must reach this (V in [-1, 1]).",
    )
    adaptive_margin: float = Field(
        0.25,
        ge=0.0,
        le=2.0,
        description="Adaptive budget: and lead every other evaluated root child by this much.",
    )
    adaptive_greedy_first: bool = Field(
        True,
        description=(
            "Adaptive budget: expand a leaf with its greedy set alone, and propose the other "
            "q - 1 sets only once that one is evaluated and below adaptive_value."
        ),
    )

    adaptive_greedy_rollout: bool = Field(
        True,
        description=(
            "Adaptive budget with greedy first: roll leaves out greedily, so the judged draft "
            "is the text greedy decoding would commit and a draft judged once is not judged "
            "again (off: sampled roll-outs, as RAIN's)."
        ),
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> SearchConfig:
        if self.t_min > self.t_max:
            raise ValueError(f"t_min ({self.t_min}) must not exceed t_max ({self.t_max})")
        if any(length < 1 for length in self.set_lengths):
            raise ValueError(f"set_lengths must all be >= 1, got {self.set_lengths}")
        for name in ("t_min_schedule", "t_max_schedule"):
            if any(value < 1 for value in getattr(self, name)):
                raise ValueError(f"{name} values must all be >= 1, got {getattr(self, name)}")
        steps = max(len(self.t_min_schedule), len(self.t_max_schedule))
        for commit in range(steps):
            low, high = self.t_min_at(commit), self.t_max_at(commit)
            if low > high:
                raise ValueError(
                    f"at commit {commit} the schedules give t_min {low} > t_max {high} "
                    "(t_min_schedule / t_max_schedule, or t_min / t_max where one is empty)"
                )
        return self

    def __init__(self, **data: object) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from exc

    def replace(self, **changes: object) -> SearchConfig:
        """A copy with ``changes`` applied and validated like the constructor."""
        return SearchConfig(**{**self.model_dump(), **changes})

    def model_copy(self, *, update: dict | None = None, deep: bool = False) -> SearchConfig:
        """Validated copy (pydantic's own ``model_copy`` would skip validation)."""
        return self.replace(**(update or {}))

    def t_min_at(self, commit: int) -> int:
        """T_min of the ``commit``-th commit (0 = the first) under ``t_min_schedule``."""
        return _scheduled(self.t_min_schedule, commit, self.t_min)

    def t_max_at(self, commit: int) -> int:
        """T of the ``commit``-th commit (0 = the first) under ``t_max_schedule``."""
        return _scheduled(self.t_max_schedule, commit, self.t_max)

    def most_iterations_per_commit(self) -> int:
        """The largest T any commit has (sizes recursion limits)."""
        return max((self.t_max, *self.t_max_schedule))

    def set_length(self, depth: int) -> int:
        """Length in tokens of the token sets proposed at ``depth`` (0 = first answer set)."""
        return self.set_lengths[min(depth, len(self.set_lengths) - 1)]


def _scheduled(schedule: tuple[int, ...], commit: int, flat: int) -> int:
    """``schedule[commit]`` (the last value repeats); ``flat`` for an empty schedule."""
    if not schedule:
        return flat
    return schedule[min(commit, len(schedule) - 1)]


def _describe(exc: ValidationError) -> str:
    """One line naming each bad field and its value (a consistency error names its fields)."""
    parts = []
    for err in exc.errors():
        if err["loc"]:
            where = ".".join(str(p) for p in err["loc"])
            parts.append(f"{where}: {err['msg']} (got {err.get('input')!r:.80})")
        else:  # a model-level check: its message already names the fields and values
            parts.append(err["msg"].removeprefix("Value error, "))
    return "invalid SearchConfig: " + "; ".join(parts)
