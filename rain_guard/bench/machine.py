"""What the bench ran on: the accelerator's name and the memory the process and caches held."""

from __future__ import annotations

import sys

from rain_guard.backends.base import Backend
from rain_guard.bench.report import megabytes


def memory_settings(backend: Backend) -> dict[str, str]:
    """What the peak cache column means, the pinned prefixes, and the process's peak RSS."""
    out = {
        "peak cache MB": "KV caches held between calls (kept prefixes and the cache in use; "
        "(b): modelled, the reference's walk or evaluation KV plus its dicp logits; "
        "(d): none, it runs without a cache)"
    }
    if hasattr(backend, "max_cached_prefixes"):
        out["prefix caches kept"] = str(backend.max_cached_prefixes)
    meter = getattr(backend, "kv_memory", None)
    if meter is not None:
        out["pinned evaluator prefixes"] = (
            f"{megabytes(meter.pinned_bytes)} MB (kept across prompts, RAIN arms only; "
            "not in the peaks)"
        )
    out["process peak RSS"] = f"{peak_rss_bytes() / 1e6:.0f} MB (all arms and the model)"
    return out


def peak_rss_bytes() -> int:
    """The process's peak resident memory (``ru_maxrss``: KB on Linux, bytes on macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def device_name(backend: Backend) -> str:
    """The accelerator's name, e.g. "cuda: NVIDIA H100 80GB HBM3", or the CPU."""
    import torch

    device = getattr(getattr(backend, "model", None), "device", None)
    if device is not None and device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return "CPU (no GPU)" if not torch.cuda.is_available() else "CPU (a GPU is present, unused)"
