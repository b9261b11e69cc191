"""A PNG of the report's rates: harmful rate and over-refusal per dataset and method.

matplotlib is imported only when a plot is drawn, so the rest of ``rain_guard.eval`` works
without it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rain_guard.eval.report import GroupSummary, Record, summarize
from rain_guard.eval.stats import Proportion

_PANELS: tuple[tuple[str, Callable[[GroupSummary], Proportion]], ...] = (
    ("harmful rate (harmful prompts)", lambda g: g.harmful),
    ("over-refusal (safe prompts)", lambda g: g.over_refusal),
)


def _figure() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("plot needs matplotlib: pip install matplotlib") from error
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _method_bars(
    groups: list[GroupSummary], pick: Callable, datasets: list[str], method: str
) -> tuple[list[int], list[float], tuple[list[float], list[float]]]:
    """Dataset positions, rates and (below, above) error lengths of one method's bars."""
    positions, rates, errors = [], [], ([], [])
    for position, dataset in enumerate(datasets):
        match = [pick(g) for g in groups if (g.dataset, g.method) == (dataset, method)]
        if match and match[0].rate is not None:
            positions.append(position)
            rates.append(match[0].rate)
            errors[0].append(match[0].rate - match[0].lo)
            errors[1].append(match[0].hi - match[0].rate)
    return positions, rates, errors


def _draw_panel(axes: Any, title: str, groups: list[GroupSummary], pick: Callable) -> None:
    datasets = list(dict.fromkeys(g.dataset for g in groups if pick(g).rate is not None))
    methods = list(dict.fromkeys(g.method for g in groups))
    width = 0.8 / max(len(methods), 1)
    for m_index, method in enumerate(methods):
        positions, rates, errors = _method_bars(groups, pick, datasets, method)
        xs = [p - 0.4 + width * (m_index + 0.5) for p in positions]
        axes.bar(xs, rates, width, yerr=errors, capsize=3, label=method)
    axes.set_xticks(range(len(datasets)), datasets, rotation=20, ha="right")
    axes.set_xlim(-0.5, max(len(datasets), 1) - 0.5)
    axes.set_ylim(0, 1)
    axes.set_title(title)
    axes.set_ylabel("rate (95% Wilson CI)")
    if not datasets:
        axes.text(0.5, 0.5, "no records", ha="center", va="center", transform=axes.transAxes)


def draw_rates(groups: list[GroupSummary], path: Path) -> Path:
    """Save a two-panel bar chart of harmful and over-refusal rates to ``path`` (PNG)."""
    figure = _figure()
    panels = figure.subplots(1, len(_PANELS))
    for axes, (title, pick) in zip(panels, _PANELS, strict=True):
        _draw_panel(axes, title, groups, pick)
    legend: dict[str, Any] = {}
    for axes in panels:
        for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    if legend:
        figure.legend(
            list(legend.values()), list(legend), loc="outside right upper", title="method"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=120)
    return path


def plot(records: Iterable[Record], path: str | os.PathLike[str]) -> Path:
    """Write a PNG with harmful rate and over-refusal per dataset and method (Wilson bars).

    Uses matplotlib's object API with the Agg canvas, so no GUI backend or global pyplot state
    is touched. Returns the written path.

    Raises:
        ImportError: matplotlib is not installed.
    """
    return draw_rates(summarize(records), Path(path))
