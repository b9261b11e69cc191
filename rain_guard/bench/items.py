"""The bench's prompts: dev-split rows of the benchmark data sets, interleaved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rain_guard.errors import ConfigError


@dataclass
class Item:
    """One benchmark prompt."""

    dataset: str
    index: int
    prompt: str
    label: str = ""


def load_items(datasets: Sequence[str], limit: int, skip: int = 0) -> list[Item]:
    """Dev-split prompts ``skip + 1`` to ``skip + limit`` of each dataset, interleaved.

    Raises:
        ConfigError: ``limit`` < 1 or ``skip`` < 0.
    """
    from rain_guard.eval import load_dataset

    if limit < 1 or skip < 0:
        raise ConfigError(f"need --limit >= 1 and --skip >= 0, got {limit} and {skip}")
    per = [load_dataset(name, split="dev", limit=skip + limit)[skip:] for name in datasets]
    items = []
    for i in range(max((len(p) for p in per), default=0)):
        for rows in per:
            if i < len(rows):
                r = rows[i]
                items.append(Item(r.dataset, r.index, r.prompt, r.label))
    return items
