"""Linear layers whose weights are reordered once for oneDNN: faster CPU matmuls over many rows.

A search step feeds 4 to ~50 rows at a time (candidate sets, roll-outs, pooled searches). For
such row counts ``torch.nn.functional.linear`` on the CPU (MKL, float32, one thread) is slow
next to oneDNN with the weight already in its blocked layout
(``torch.ops.mkldnn._reorder_linear_weight``, as inductor's freezing pass prepares it): on the
2-core CPU, for SmolLM2-135M's linear shapes, 0.63-0.76x the time at 4-48 rows, and
0.5-0.75x for the 49,152 x 576 output layer. For 1 to 3 rows (greedy decoding) the plain call
is faster, so those rows keep it; the results agree to float32 rounding (~1e-6 relative).

The price is memory: the reordered copy sits beside the weight (which tied embeddings and
the few-row path still read), one more copy of every linear weight.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

MIN_ROWS = 4  # rows from which the reordered weight is faster (1-3: MKL's plain call is)
MAX_PACKED_BYTES = 4 << 30  # auto mode packs models whose linear weights take at most this


class PackedLinear(torch.nn.Linear):
    """An ``nn.Linear`` that also holds its weight in oneDNN's layout (``pack_linears``).

    Its parameters, hooks and tied weights are the original layer's: the layer's class is
    swapped in place, and the reordered copy is a buffer that is not saved.
    """

    packed: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() < MIN_ROWS * self.in_features or x.dtype != self.packed.dtype:
            return F.linear(x, self.weight, self.bias)
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")


def can_pack(model: Any) -> bool:
    """Whether ``pack_linears`` applies: float32 weights on the CPU and a oneDNN build."""
    weight = next(iter(model.parameters()), None)
    return (
        weight is not None
        and weight.device.type == "cpu"
        and weight.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
    )


def linear_bytes(model: Any) -> int:
    """Bytes of every ``nn.Linear`` weight of ``model`` (what packing copies)."""
    return sum(
        m.weight.numel() * m.weight.element_size()
        for m in model.modules()
        if isinstance(m, torch.nn.Linear)
    )


def pack_linears(model: Any) -> int:
    """Give every ``nn.Linear`` of ``model`` a oneDNN-reordered weight; returns how many.

    Does nothing (returns 0) when ``can_pack`` is false. The weights must not change
    afterwards: the reordered copies would go stale.
    """
    if not can_pack(model):
        return 0
    count = 0
    with torch.no_grad():
        for module in model.modules():
            if type(module) is torch.nn.Linear:
                packed = torch.ops.mkldnn._reorder_linear_weight(module.weight.detach())
                module.__class__ = PackedLinear
                module.register_buffer("packed", packed, persistent=False)
                count += 1
    return count
