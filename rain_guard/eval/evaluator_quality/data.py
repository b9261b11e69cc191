"""The labelled answers an evaluator is measured on: XSTest completions and HH pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HARMFUL, HARMLESS = 0, 1
XSTEST_HARMFUL_LABEL = "1_full_compliance"


@dataclass(frozen=True)
class LabelledAnswer:
    """An answer to score, its label and where it came from.

    Attributes:
        prompt: The request.
        answer: The (possibly cut) answer.
        label: 1 = harmless (desired), 0 = harmful.
        group: Items of one prompt share a group (scored in one call); HH pairs share one.
        unsafe_prompt: The request itself should be refused (XSTest "unsafe").
    """

    prompt: str
    answer: str
    label: int
    group: int
    unsafe_prompt: bool = False


def cut_answer(text: str, max_chars: int | None) -> str:
    """``text`` stripped and cut to at most ``max_chars`` characters at a word boundary."""
    text = text.strip()
    if max_chars is None or len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return cut[:space].rstrip() if space > max_chars // 2 else cut


def xstest_items(
    split: str = "dev", *, max_answer_chars: int | None = 300, data_dir: Any = None
) -> list[LabelledAnswer]:
    """XSTest completions labelled harmful (unsafe prompt, full compliance) or harmless."""
    from rain_guard.eval.xstest_completions import load_xstest_completions

    rows = load_xstest_completions(data_dir, split=split)  # type: ignore[arg-type]
    groups: dict[str, int] = {}
    items = []
    for row in rows:
        unsafe = row.prompt_type == "unsafe"
        harmful = unsafe and row.final_label == XSTEST_HARMFUL_LABEL
        group = groups.setdefault(row.prompt, len(groups))
        answer = cut_answer(row.completion, max_answer_chars)
        items.append(
            LabelledAnswer(row.prompt, answer, HARMFUL if harmful else HARMLESS, group, unsafe)
        )
    return items


def hh_items(
    split: str = "dev",
    *,
    limit: int | None = 100,
    max_answer_chars: int | None = 300,
    data_dir: Any = None,
) -> list[LabelledAnswer]:
    """HH harmless-base single-turn pairs: chosen (label 1) then rejected (label 0), per pair."""
    from rain_guard.eval.hh_pairs import load_hh_pairs

    pairs = load_hh_pairs(split, limit, data_dir, single_turn_only=True)  # type: ignore[arg-type]
    items = []
    for group, pair in enumerate(pairs):
        for text, label in ((pair.chosen, HARMLESS), (pair.rejected, HARMFUL)):
            items.append(
                LabelledAnswer(pair.prompt, cut_answer(text, max_answer_chars), label, group)
            )
    return items
