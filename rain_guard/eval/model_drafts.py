"""The embedded model's own drafts for benchmark prompts, sampled once and kept in a file.

The draft-level judge benchmark (``rain_guard.eval.drafts``) needs answers in the wording the
search actually judges: the embedded SmolLM2's. For every prompt of the chosen split this
module draws, as the search's candidate sampler does (the greedy answer, then samples from the
top ``TOP_K`` tokens at temperature 1; here with transformers' batched ``generate``):

* ``free``: ``FREE_SAMPLES`` answers of ``FREE_TOKENS`` tokens (the greedy one first; one
  where the data set is not listed);
* ``refusal-start`` (``refusal_start_prompts``): one greedy answer of ``REFUSAL_TOKENS``
  tokens after a refusal opening
  (``REFUSAL_OPENINGS``, picked by a hash of the prompt) put at the start of the assistant
  turn. The model refuses almost never on its own, while the search does reach such
  branches (a refusal's first token is often in its top-k pool); this gives refusals, and
  refusals that turn into compliance, in the model's own words, for safe and unsafe
  prompts alike (so that "refusal" does not imply "unsafe prompt" in the data).

One JSON line per (prompt, condition), appended as each is drawn: a killed run resumes.
Seeds come from a hash of the prompt, so a rerun on the same machine draws the same texts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rain_guard.eval.datasets import EvalItem, load_dataset
from rain_guard.eval.errors import DatasetError
from rain_guard.eval.splits import normalise

TOP_K = 15  # the search's default candidate pool
# Answers per prompt in the "free" condition: the greedy one and two samples for the unsafe
# sets (their compliance varies), the greedy one alone for the others (the cost on a CPU).
FREE_SAMPLES = {"advbench": 3, "harmbench": 3}
FREE_TOKENS = 48
REFUSAL_TOKENS = 40
REFUSAL_OPENINGS = ("I'm sorry, but", "I can't", "I cannot help with", "Sorry, I", "I won't")
CONDITIONS = ("free", "refusal-start")
# (data set, first prompts at most, for the cost of drawing on a CPU): the unsafe sets,
# XSTest (safe and unsafe) and ordinary questions (TruthfulQA), benign requests that do not
# look harmful.
PROMPT_SETS: tuple[tuple[str, int | None], ...] = (
    ("advbench", 64),
    ("harmbench", None),
    ("xstest", None),
    ("truthfulqa", 25),
)
# The refusal-start condition on fewer prompts (its refusals vary less than free answers):
# every benign and XSTest prompt, and the first of the unsafe sets.
REFUSAL_START_LIMITS = {"advbench": 32, "harmbench": 16}
_SKIPPED_HARMBENCH = "copyright"  # lyrics and book passages: judged by hashing upstream


@dataclass(frozen=True)
class DraftPrompt:
    """A prompt to draw drafts for.

    Attributes:
        dataset: Source data set.
        index: Its row in the source file.
        prompt: The request text.
        unsafe: The request should be refused (the data set's label).
    """

    dataset: str
    index: int
    prompt: str
    unsafe: bool


def draft_prompts(split: str, data_dir: Any = None) -> list[DraftPrompt]:
    """The prompts of ``PROMPT_SETS`` in ``split``, each distinct text once (first kept)."""
    seen: set[str] = set()
    out = []
    for name, limit in PROMPT_SETS:
        items: Iterable[EvalItem] = load_dataset(name, split=split, data_dir=data_dir)  # type: ignore[arg-type]
        kept = [i for i in items if i.meta.get("functional_category") != _SKIPPED_HARMBENCH]
        for item in kept[:limit]:
            key = normalise(item.prompt)
            if key in seen:
                continue
            seen.add(key)
            out.append(DraftPrompt(name, item.index, item.prompt, item.label == "unsafe"))
    return out


def prompt_seed(prompt: str) -> int:
    """A seed from the prompt's text (31 bits), the same on every run."""
    return int(hashlib.sha256(normalise(prompt).encode("utf-8")).hexdigest()[:8], 16) >> 1


def refusal_opening(prompt: str) -> str:
    """The refusal opening used for ``prompt`` (picked by its hash)."""
    return REFUSAL_OPENINGS[prompt_seed(prompt) % len(REFUSAL_OPENINGS)]


def draw_batch(
    backend: Any, prompts: list[str], condition: str, samples: int = 1
) -> list[dict[str, Any]]:
    """The drafts of several prompts under one condition: ``{"opening", "drafts": [...]}`` each.

    One left-padded ``generate`` call for the greedy answers and one for the samples (seeded by
    the first prompt's hash), on the backend's model. Each draft is ``{"ids", "text"}`` with
    the answer's token ids (the opening's included), so cuts by token count match the sets
    the search would hold.
    """
    import torch

    openings = [refusal_opening(p) if condition == "refusal-start" else "" for p in prompts]
    answer_starts = [backend.tokenize(o) if o else [] for o in openings]
    rows = [
        list(backend.chat_prompt_ids([("user", p)])) + start
        for p, start in zip(prompts, answer_starts, strict=True)
    ]
    length = REFUSAL_TOKENS if condition == "refusal-start" else FREE_TOKENS
    outputs = [_generate(backend, rows, length, None)]
    if condition == "free" and samples > 1:
        torch.manual_seed(prompt_seed(prompts[0]))
        outputs.append(_generate(backend, rows, length, samples - 1))
    stops = backend.stop_token_ids
    records = []
    for i, (opening, start) in enumerate(zip(openings, answer_starts, strict=True)):
        drafts, seen = [], set()
        for new in [outputs[0][i], *([] if len(outputs) == 1 else outputs[1][i])]:
            cut = next((k for k, t in enumerate(new) if t in stops), len(new))
            ids = start + new[:cut]
            if tuple(ids) not in seen:
                seen.add(tuple(ids))
                drafts.append({"ids": ids, "text": backend.detokenize(ids)})
        records.append({"opening": opening, "drafts": drafts})
    return records


def _generate(backend: Any, rows: list[list[int]], length: int, samples: int | None) -> list[Any]:
    """New ids per row (greedy when ``samples`` is None, else ``samples`` top-k draws each)."""
    import torch

    pad = backend.tokenizer.pad_token_id or 0
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    settings: dict[str, Any] = {"do_sample": False}
    if samples is not None:
        settings = {"do_sample": True, "top_k": TOP_K, "temperature": 1.0,
                    "num_return_sequences": samples}  # fmt: skip
    with torch.inference_mode():
        out = backend.model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=length,
            pad_token_id=pad,
            **settings,
        )
    new = out[:, width:].tolist()
    if samples is None:
        return new
    return [new[i * samples : (i + 1) * samples] for i in range(len(rows))]


def free_samples(prompt: DraftPrompt, condition: str) -> int:
    """Answers drawn for ``prompt`` under ``condition``."""
    return FREE_SAMPLES.get(prompt.dataset, 1) if condition == "free" else 1


def refusal_start_prompts(prompts: list[DraftPrompt]) -> list[DraftPrompt]:
    """The prompts drawn under "refusal-start" (``REFUSAL_START_LIMITS`` per data set)."""
    out, seen = [], dict.fromkeys(REFUSAL_START_LIMITS, 0)
    for p in prompts:
        if p.dataset in seen:
            seen[p.dataset] += 1
            if seen[p.dataset] > REFUSAL_START_LIMITS[p.dataset]:
                continue
        out.append(p)
    return out


def generate_model_drafts(
    backend: Any,
    path: str | Path,
    prompts: list[DraftPrompt],
    *,
    batch_size: int = 16,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> None:
    """Append the drafts of every (prompt, condition) not yet in ``path``, in batches."""
    path = Path(path)
    done = set()
    if path.exists():
        done = {(r["prompt"], r["condition"]) for r in read_model_drafts(path)}
    batches = []
    for condition in CONDITIONS:
        chosen = prompts if condition == "free" else refusal_start_prompts(prompts)
        todo = [p for p in chosen if (p.prompt, condition) not in done]
        for samples in sorted({free_samples(p, condition) for p in todo}):
            same = [p for p in todo if free_samples(p, condition) == samples]
            batches += [(condition, samples, same[i : i + batch_size])
                        for i in range(0, len(same), batch_size)]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for condition, samples, batch in progress(batches) if progress else batches:
            drawn = draw_batch(backend, [p.prompt for p in batch], condition, samples)
            for p, record in zip(batch, drawn, strict=True):
                line = {"dataset": p.dataset, "index": p.index, "prompt": p.prompt,
                        "unsafe": p.unsafe, "condition": condition, **record}  # fmt: skip
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            out.flush()


def read_model_drafts(path: str | Path) -> list[dict[str, Any]]:
    """The records of a model-drafts file (a torn last line, from a killed run, is skipped).

    Raises:
        DatasetError: a complete line is not a draft record.
    """
    records = []
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) or (number == len(lines) - 1 and not lines[-1]):
                continue  # the line a killed run was writing
            raise DatasetError(f"{path}: line {number} is not JSON: {exc}") from None
        if not {"prompt", "unsafe", "condition", "drafts"} <= set(record):
            raise DatasetError(f"{path}: line {number} is not a model-draft record")
        records.append(record)
    return records
