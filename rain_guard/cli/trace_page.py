"""Search traces a person can read: why RAIN committed what it did.

``trace_from_result`` gives a JSON-ready dict (also placed in ChatRAIN's response_metadata);
``render_trace_html`` turns it into one self-contained HTML page: the answer, then one panel
per commit listing every alternative the search weighed, with its visits, value, prior and
evaluator score, the committed one highlighted.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from rain_guard.search.run import GenerationResult

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
.answer{white-space:pre-wrap;background:#f5f5f5;padding:1rem;border-radius:6px}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left;font-size:.9rem}
tr.chosen{background:#e8f4ff;font-weight:600}
.bar{display:inline-block;height:.7rem;background:#4a90d9;vertical-align:middle}
.neg{color:#b00020}.pos{color:#0a7d32}.unvisited{color:#777}code{white-space:pre-wrap}
"""


def trace_from_result(result: GenerationResult, prompt: str, model: str) -> dict[str, Any]:
    """The trace of one answer as plain data."""
    return {
        "prompt": prompt,
        "model": model,
        "answer": result.text,
        "stop_reason": result.stop_reason,
        "iterations": result.iterations,
        "rewinds": result.rewinds,
        "commits": result.commits,
    }


def render_trace_html(trace: dict[str, Any]) -> str:
    """A self-contained HTML page for ``trace`` (no scripts, no external files)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>RAIN trace</title><style>{_STYLE}</style></head><body>",
        "<h1>RAIN search trace</h1>",
        f"<p><b>Model:</b> {_e(trace['model'])} &nbsp; <b>Iterations:</b> {trace['iterations']}"
        f" &nbsp; <b>Rewinds:</b> {trace['rewinds']} &nbsp; <b>Stop:</b>"
        f" {_e(trace['stop_reason'])}</p>",
        f"<h2>Prompt</h2><div class='answer'>{_e(trace['prompt'])}</div>",
        f"<h2>Answer</h2><div class='answer'>{_e(trace['answer'])}</div>",
        "<h2>Commits</h2>",
    ]
    for i, commit in enumerate(trace["commits"], 1):
        parts.append(_commit_panel(i, commit))
    parts.append(
        f"<details><summary>raw trace (JSON)</summary><code>{_e(json.dumps(trace))}</code>"
        "</details></body></html>"
    )
    return "\n".join(parts)


def write_trace_html(
    result: GenerationResult, path: str | Path, *, prompt: str, model: str
) -> Path:
    """Render the trace of ``result`` to ``path`` and return the path."""
    out = Path(path)
    out.write_text(render_trace_html(trace_from_result(result, prompt, model)), encoding="utf-8")
    return out


def _commit_panel(index: int, commit: dict[str, Any]) -> str:
    alternatives = commit.get("alternatives") or []
    most = max((a["visits"] for a in alternatives), default=1.0) or 1.0
    chosen = commit["text"]
    rows = [
        f"<h3>Commit {index}: <code>{_e(chosen)}</code></h3>",
        f"<p>{commit['iterations']} new iterations; value {commit['value']:+.3f};"
        f" {'greedy choice' if commit.get('greedy') else 'not the greedy choice'}</p>",
        "<table><tr><th>candidate</th><th>visits</th><th>value</th><th>prior</th>"
        "<th>last score</th></tr>",
    ]
    ranked = sorted(enumerate(alternatives), key=lambda pair: -pair[1]["visits"])
    for position, alt in ranked:
        cls = " class='chosen'" if position == commit.get("chosen") else ""
        width = int(100 * alt["visits"] / most)
        score = "-" if alt["score"] is None else f"{alt['score']:+.3f}"
        rows.append(
            f"<tr{cls}><td><code>{_e(alt['text'])}</code></td>"
            f"<td><span class='bar' style='width:{width}px'></span> {_visits(alt['visits'])}</td>"
            f"{_value_cell(alt)}<td>{alt['prior']:.3f}</td><td>{score}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _visits(visits: float) -> str:
    """Visits as counted: whole evaluations as an integer, similarity shares with a decimal."""
    return f"{visits:.0f}" if float(visits).is_integer() else f"{visits:.1f}"


def _value_cell(alt: dict[str, Any]) -> str:
    """The value cell: "-" for a candidate the search never visited (it has no value)."""
    if not alt["visits"]:
        return "<td class='unvisited'>-</td>"
    return f"<td class='{'neg' if alt['value'] < 0 else 'pos'}'>{alt['value']:+.3f}</td>"


def _e(value: Any) -> str:
    return html.escape(str(value))
