"""Give freed tensor memory back to the system: a fixed glibc mmap threshold.

glibc's malloc serves blocks above its mmap threshold with their own mappings, unmapped on
free. But each time such a block is freed it raises the threshold to that block's size (up
to 32 MiB on 64-bit), so after a search's first walks its KV-cache buffers and logits
(0.1-30 MB each) come from the heap arenas instead, one arena per worker thread of a pooled
run, where freed blocks stay resident, fragmented. A pooled ``rain-guard eval run --batch 8``
(16 XSTest-safe dev prompts, k 4, T 50 50 12) passed 15 GB resident within 5 minutes; with
the threshold fixed at 256 KiB the same run held 4.6 GB at most, at no measurable cost in
time (docs/performance.md, "Memory of pooled searches").

``mallopt(M_MMAP_THRESHOLD, n)`` fixes the threshold (and turns the raising off) for the
whole process, so it is done once, when the first ``TransformersBackend`` is built. Set
``RAIN_GUARD_MALLOC_MMAP_THRESHOLD`` to a byte count to choose another threshold, or to 0
to leave malloc as it is; a process started with glibc's own ``MALLOC_MMAP_THRESHOLD_`` is
left alone too. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading

from rain_guard.errors import ConfigError

logger = logging.getLogger(__name__)

ENV = "RAIN_GUARD_MALLOC_MMAP_THRESHOLD"
DEFAULT_BYTES = 256 * 1024  # blocks of at least this size are mapped and unmapped on free
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
_lock = threading.Lock()
_applied: int | None = None


def fix_mmap_threshold() -> int | None:
    """Fix glibc's mmap threshold once per process; the bytes set, or None when left alone.

    Raises:
        ConfigError: ``RAIN_GUARD_MALLOC_MMAP_THRESHOLD`` is not a byte count >= 0.
    """
    global _applied
    wanted = _wanted_bytes()
    with _lock:
        if _applied is not None or not wanted or not sys.platform.startswith("linux"):
            return _applied
        if "MALLOC_MMAP_THRESHOLD_" in os.environ:
            return None  # the user set glibc's own knob
        libc = _glibc()
        if libc is None or libc.mallopt(_M_MMAP_THRESHOLD, wanted) != 1:
            return None
        _applied = wanted
        logger.debug("glibc mmap threshold fixed at %d bytes", wanted)
        return wanted


def _wanted_bytes() -> int:
    """The threshold asked for by the environment (0: leave malloc alone)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"{ENV} must be a byte count >= 0 (0: leave malloc alone), got {raw!r}")
    return value


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (has ``mallopt`` and ``gnu_get_libc_version``)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc
