"""Tests of rain_guard.eval report numbers against hand-computed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from rain_guard.eval import (
    ResultsError,
    mean_interval,
    plot,
    summarize,
    summary_markdown,
    wilson_interval,
)

Z = 1.959963984540054


def _record(dataset: str, label: str | None, refused: bool, **extra: object) -> dict[str, object]:
    base = {
        "prompt": "p",
        "answer": "",
        "method": "rain",
        "dataset": dataset,
        "label": label,
        "refused": refused,
        "harmful": None,
        "seconds": None,
        "model_tokens": None,
        "iterations": None,
    }
    return base | extra


RECORDS = [
    _record("advbench", "unsafe", True, answer="No.", seconds=1.0, model_tokens=10, iterations=2),
    _record("advbench", "unsafe", True, answer="Sorry.", seconds=2.0, model_tokens=20),
    _record("advbench", "unsafe", False, answer="Sure, do X.", seconds=3.0),
    _record("xstest", "safe", True),
    _record("xstest", "safe", False),
    _record("xstest", "safe", False),
    _record("xstest", "safe", False),
    _record("xstest", "unsafe", True),
    _record("hh-harmless", None, False, harmful=True),
    _record("hh-harmless", None, False),
    _record("advbench", "unsafe", False, method="baseline", harmful=False),
]


def test_wilson_by_hand() -> None:
    # k=1, n=3: p=1/3, z^2/n = 1.280486, centre = (1/3 + z^2/6) / (1 + z^2/3) = 0.426915,
    # half = z / 2.280486 * sqrt(2/27 + z^2/36) = 0.365423 -> [0.061492, 0.792340].
    lo, hi = wilson_interval(1, 3)
    assert lo == pytest.approx(0.061492, abs=1e-6) and hi == pytest.approx(0.792340, abs=1e-6)
    # k=0, n=1: [0, z^2 / (1 + z^2)] = [0, 0.793451].
    assert wilson_interval(0, 1) == pytest.approx((0.0, Z * Z / (1 + Z * Z)))
    with pytest.raises(ValueError):
        wilson_interval(2, 1)


def test_mean_interval_by_hand() -> None:
    m = mean_interval([1.0, 2.0, 3.0])  # sd = 1 -> half = z / sqrt(3) = 1.131586
    assert (m.n, m.mean) == (3, 2.0)
    assert (m.lo, m.hi) == pytest.approx((2 - 1.131586, 2 + 1.131586), abs=1e-6)
    assert mean_interval([5.0]).lo is None and mean_interval([]).mean is None


def test_summarize_by_hand() -> None:
    groups = {(g.dataset, g.method): g for g in summarize(RECORDS)}
    assert list(groups) == [
        ("advbench", "rain"),
        ("xstest", "rain"),
        ("hh-harmless", "rain"),
        ("advbench", "baseline"),
    ]
    adv = groups["advbench", "rain"]
    assert (adv.n, adv.harmful.k, adv.harmful.n) == (3, 1, 3)
    assert adv.harmful.rate == pytest.approx(1 / 3)
    assert (adv.harmful.lo, adv.harmful.hi) == pytest.approx((0.061492, 0.792340), abs=1e-6)
    assert adv.over_refusal.n == 0 and adv.over_refusal.rate is None
    assert adv.answer_chars.mean == pytest.approx(20 / 3)  # 3, 6, 11 characters
    assert (adv.seconds.mean, adv.seconds.hi) == pytest.approx((2.0, 3.131586), abs=1e-6)
    # tokens 10, 20 (None skipped): sd = 7.0711 -> half = z * 7.0711 / sqrt(2) = 9.79982
    assert (adv.model_tokens.n, adv.model_tokens.lo) == (2, pytest.approx(15 - 9.79982, abs=1e-5))
    assert (adv.iterations.n, adv.iterations.mean) == (1, 2.0)
    xs = groups["xstest", "rain"]
    assert (xs.over_refusal.k, xs.over_refusal.n) == (1, 4)
    assert (xs.harmful.k, xs.harmful.n) == (0, 1)
    hh = groups["hh-harmless", "rain"]
    assert (hh.harmful.k, hh.harmful.n) == (1, 1)  # unlabelled: only judged records count
    base = groups["advbench", "baseline"]
    assert (base.harmful.k, base.harmful.n) == (0, 1)  # an explicit verdict beats "not refused"


def test_summary_markdown() -> None:
    table = summary_markdown(RECORDS)
    lines = table.strip().splitlines()
    assert len(lines) == 2 + 4 and lines[0].startswith("| dataset | method |")
    assert "| advbench | rain | 3 | 33.3% [6.1, 79.2] (1/3) | — | 7 ± " in lines[2]
    assert "25.0% [4.6, 69.9] (1/4)" in lines[3]
    assert "2.00 ± 1.13" in lines[2]
    with pytest.raises(ResultsError):
        summary_markdown([{"dataset": "x"}])


def test_plot_writes_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = plot(RECORDS, tmp_path / "out" / "rates.png")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert plot([], tmp_path / "empty.png").stat().st_size > 0
