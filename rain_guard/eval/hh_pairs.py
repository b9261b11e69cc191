r"""HH-RLHF harmless-base test pairs: a prompt with the human-chosen and rejected replies.

Useful to check whether a self-evaluator prefers the more harmless (chosen) reply.

Choice of turns: each line holds two full dialogues ("\n\nHuman: ...\n\nAssistant: ...") that
differ only in the final Assistant turn. The prompt is the first Human turn (text between the
first "Human:" and the first "\n\nAssistant:", stripped; identical to the ``prompt`` field of
``harmless_base_test_prompts.jsonl``) and each reply is the last Assistant turn, stripped. In a
multi-turn dialogue that last reply answers a later Human turn, not the first one; pass
``single_turn_only=True`` to keep only one-turn dialogues, where prompt and replies match.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from rain_guard.eval.datadir import data_file, resolve_data_dir
from rain_guard.eval.datasets import check_limit
from rain_guard.eval.errors import DatasetError
from rain_guard.eval.readers import read_jsonl
from rain_guard.eval.splits import SplitChoice, check_split_choice, row_splits, wanted

HH_PAIRS_FILE = "hh_rlhf/harmless-base_test.jsonl.gz"
_HUMAN = "\n\nHuman:"
_ASSISTANT = "\n\nAssistant:"


class HHPair(NamedTuple):
    """First human turn and the last assistant turn of the chosen and rejected dialogues."""

    prompt: str
    chosen: str
    rejected: str


def first_human_turn(dialogue: str) -> str:
    r"""Text between the first "Human:" and the first following "\n\nAssistant:", stripped."""
    start = dialogue.find("Human:")
    end = dialogue.find(_ASSISTANT, start)
    if start < 0 or end < 0:
        raise DatasetError(f"not an HH dialogue: {dialogue[:60]!r}")
    return dialogue[start + len("Human:") : end].strip()


def last_assistant_turn(dialogue: str) -> str:
    r"""Text after the last "\n\nAssistant:" (up to any later Human turn), stripped."""
    start = dialogue.rfind(_ASSISTANT)
    if start < 0:
        raise DatasetError(f"no Assistant turn in HH dialogue: {dialogue[:60]!r}")
    reply = dialogue[start + len(_ASSISTANT) :]
    return reply.split(_HUMAN, 1)[0].strip()


def _human_turns(dialogue: str) -> int:
    return dialogue.count(_HUMAN) + (0 if dialogue.startswith(_HUMAN) else 1)


def load_hh_pairs(
    split: SplitChoice = "dev",
    limit: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    single_turn_only: bool = False,
) -> list[HHPair]:
    """(prompt, chosen reply, rejected reply) triples from the harmless-base test split.

    Args:
        split: "dev" (default), "eval" or "all", keyed on the prompt text.
        limit: Keep at most this many pairs (after filtering).
        data_dir: The data folder; see ``resolve_data_dir``.
        single_turn_only: Keep only dialogues with a single Human turn.
    """
    check_split_choice(split)
    check_limit(limit)
    root = resolve_data_dir(data_dir)
    rows = read_jsonl(data_file(root, HH_PAIRS_FILE))
    prompts = [first_human_turn(row["chosen"]) for row in rows]
    splits = row_splits(root, HH_PAIRS_FILE, prompts)
    pairs = [
        HHPair(prompt, last_assistant_turn(row["chosen"]), last_assistant_turn(row["rejected"]))
        for row, prompt, row_split in zip(rows, prompts, splits, strict=True)
        if wanted(row_split, split) and not (single_turn_only and _human_turns(row["chosen"]) > 1)
    ]
    return pairs if limit is None else pairs[:limit]
