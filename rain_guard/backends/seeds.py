"""Seeds derived from a run seed and coordinates, so draws never depend on call order."""

from __future__ import annotations

import zlib


def draw_seed(base: int, *parts: int) -> int:
    """A 31-bit seed that depends only on ``base`` and the parts (never on call order).

    The search derives each step's seed from the run seed and the step's coordinates; a
    served engine derives each request's seed from the call's seed and the request's index.
    """
    data = ",".join(str(p) for p in (base, *parts)).encode()
    return zlib.crc32(data) & 0x7FFFFFFF
