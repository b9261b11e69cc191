"""load_backend: a backend by model name, loaded once per process and shared.

Loading weights is the slow part (seconds), so every ChatRAIN, CLI command and guard node
that names the same model shares one backend. The name "fake" gives the deterministic
``FakeBackend`` (no weights), which the CLI's own tests and dry runs use.
"""

from __future__ import annotations

import threading

from rain_guard.backends.base import Backend
from rain_guard.backends.fake import FakeBackend
from rain_guard.errors import ModelNotFoundError

_LOADED: dict[tuple[str, int | None, str, str | None], Backend] = {}
_LOCK = threading.Lock()


def load_backend(
    model: str | None = None,
    *,
    num_threads: int | None = None,
    dtype: str = "float32",
    device: str | None = None,
) -> Backend:
    """The shared backend for ``model`` (default: the embedded SmolLM2-135M-Instruct).

    Args:
        model: "smollm2"/None (embedded default), "fake", a local folder or .gguf, a hub id.
        num_threads: CPU threads for torch (None: torch's default).
        dtype: Weight dtype ("float32", "bfloat16", "float16", "auto").
        device: Torch device ("cuda", "cpu"; None: cpu).

    Raises:
        ModelNotFoundError: nothing could be found under that name.
        ModelLoadError: the model was found but could not be loaded.
    """
    if model is not None and not model.strip():
        raise ModelNotFoundError("the model name is empty: give a name, path or hub id")
    key = (model or "smollm2", num_threads, dtype, device)
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(*key)
        return _LOADED[key]


def _load(model: str, num_threads: int | None, dtype: str, device: str | None) -> Backend:
    if model == "fake":
        return FakeBackend()
    from rain_guard.backends.transformers.backend import TransformersBackend

    return TransformersBackend.from_pretrained(
        model, num_threads=num_threads, dtype=dtype, device=device
    )
