"""Where RAIN decides: per-commit position of the search's choices against the final verdict.

Whether an answer refuses is mostly settled in its first tokens, so the search budget spent
on later commits may not change outcomes. This module reads an ``eval run`` results file
(RAIN records carry their ``commits``: text, value, iterations) and, per prompt with both a
greedy (``vanilla``) and a RAIN answer, finds:

* the **divergence commit**: the first commit whose text leaves greedy decoding's answer
  (1 = the first commit; none when RAIN's answer is greedy's word for word or a prefix of it);
* the **settled commit**: the first commit after which the refusal verdict of the answer so
  far (GCG refusal strings, the verdict the eval's rates use) no longer changes;
* the share of the search's iterations spent after the settled commit.

Commits are 1-based throughout; the t_min/t_max schedules of ``SearchConfig`` index commits
from 0, so "settled by commit 3" means schedule entries 0-2 decided it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rain_guard.eval.errors import ResultsError

Record = Mapping[str, Any]


@dataclass(frozen=True)
class CommitPath:
    """One prompt's RAIN answer, commit by commit, against its greedy answer."""

    dataset: str
    index: int
    commits: int
    divergence: int | None  # first commit off greedy's text (1-based); None: never
    settled: int  # first commit from which the refusal verdict stays final (1-based)
    rain_refused: bool
    greedy_refused: bool
    iterations: int
    iterations_after_settled: int

    @property
    def outcome_changed(self) -> bool:
        """RAIN's refusal verdict differs from greedy decoding's."""
        return self.rain_refused != self.greedy_refused


def commit_paths(records: Iterable[Record], refused: Any) -> list[CommitPath]:
    """One ``CommitPath`` per (dataset, index) with a vanilla and a RAIN record with commits.

    Args:
        records: ``eval run`` records.
        refused: ``refused(prompt, text) -> bool``, the verdict of an answer so far.

    Raises:
        ResultsError: A RAIN record's commits do not add up to its answer.
    """
    greedy: dict[tuple[str, int], Record] = {}
    rain: dict[tuple[str, int], Record] = {}
    for record in records:
        key = (str(record.get("dataset")), int(record.get("index", -1)))
        if record.get("method") == "vanilla":
            greedy[key] = record
        elif record.get("method") == "rain" and record.get("commits"):
            rain[key] = record
    return [_path(key, rain[key], greedy[key], refused) for key in rain if key in greedy]


def _same_text(joined: str, answer: str) -> bool:
    """Commits add up to the answer; a character split across two commits decodes as U+FFFD.

    Each commit's text is decoded alone, so a multi-byte character (an emoji) cut by a commit
    boundary reads as replacement characters there; the ASCII text must still agree.
    """
    if joined == answer:
        return True
    return "\ufffd" in joined and _ascii(joined) == _ascii(answer)


def _ascii(text: str) -> str:
    return text.encode("ascii", "ignore").decode()


def _path(key: tuple[str, int], rain: Record, greedy: Record, refused: Any) -> CommitPath:
    texts = [str(c["text"]) for c in rain["commits"]]
    spent = [int(c.get("iterations", 0)) for c in rain["commits"]]
    if not _same_text("".join(texts), str(rain["answer"])):
        raise ResultsError(f"{key}: the commits' texts do not add up to the RAIN answer")
    so_far = [("".join(texts[: i + 1])) for i in range(len(texts))]
    verdicts = [bool(refused(rain["prompt"], text)) for text in so_far]
    settled = _settled(verdicts)
    return CommitPath(
        dataset=key[0],
        index=key[1],
        commits=len(texts),
        divergence=_divergence(so_far, str(greedy["answer"])),
        settled=settled,
        rain_refused=verdicts[-1],
        greedy_refused=bool(refused(greedy["prompt"], str(greedy["answer"]))),
        iterations=sum(spent),
        iterations_after_settled=sum(spent[settled:]),
    )


def _divergence(so_far: Sequence[str], greedy: str) -> int | None:
    """First 1-based commit whose answer-so-far is not a prefix of greedy's answer."""
    for number, text in enumerate(so_far, start=1):
        if not greedy.startswith(text):
            return number
    return None


def _settled(verdicts: Sequence[bool]) -> int:
    """First 1-based commit from which every later verdict equals the last one."""
    settled = len(verdicts)
    while settled > 1 and verdicts[settled - 2] == verdicts[-1]:
        settled -= 1
    return settled


def _bucket(commit: int | None) -> str:
    if commit is None:
        return "never"
    return str(commit) if commit <= 3 else "4+"


BUCKETS = ("1", "2", "3", "4+", "never")


def commit_markdown(paths: Sequence[CommitPath]) -> str:
    """Per dataset: outcomes RAIN changed, where they diverged and settled, late iterations.

    "iterations after settled" is the share of the search's iterations spent on commits
    after the one that settled the refusal verdict: budget a schedule could save.
    """
    lines = [
        "| dataset | answers | outcome changed vs greedy | divergence commit of changed "
        "(1 / 2 / 3 / 4+ / never) | settled commit, all (1 / 2 / 3 / 4+) "
        "| iterations after settled |",
        "|---|---:|---:|---|---|---:|",
    ]
    for dataset in dict.fromkeys(p.dataset for p in paths):
        mine = [p for p in paths if p.dataset == dataset]
        changed = [p for p in mine if p.outcome_changed]
        div = Counter(_bucket(p.divergence) for p in changed)
        settled = Counter(_bucket(p.settled) for p in mine)
        total = sum(p.iterations for p in mine)
        after = sum(p.iterations_after_settled for p in mine)
        lines.append(
            f"| {dataset} | {len(mine)} | {len(changed)} "
            f"| {' / '.join(str(div[b]) for b in BUCKETS)} "
            f"| {' / '.join(str(settled[b]) for b in BUCKETS[:4])} "
            f"| {100 * after / max(1, total):.0f}% |"
        )
    return "\n".join(lines) + "\n"
