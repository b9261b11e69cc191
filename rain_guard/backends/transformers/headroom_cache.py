"""A KV cache layer that appends into spare positions instead of concatenating.

``DynamicLayer.update`` concatenates, so every one-token step of a walk copies the whole
cache of every row, and a walk that also selects rows copies it a second time. In a pooled
search the two copies took 23 % of the working time (py-spy, docs/performance.md).
``HeadroomLayer`` keeps its keys and values in a buffer with spare positions after the
filled ones: a step writes its token into the next spare position, and a row selection
gathers the buffer, spare positions and all, in one copy. A walk goes further: its rows keep
their slots of the buffer from step to step (``take_slots``, ``row_slots``), so a step copies
only the rows that move into a freed slot; a gathered buffer has spare slots
(``SPARE_SLOTS``), so rows that split after a gather move into those instead of gathering
every row again.

The cache's ops elsewhere rely on exposed tensors never changing (``cache_ops.fork``). Here
an append only ever lands on a position no view has exposed, and only when no other layer
sharing the buffer has written there first (``_Buffer.filled``); otherwise the layer copies
into a new buffer, so forks stay independent. Slot moves do overwrite exposed positions, so
they happen only on a buffer that no copied layer shares (``_Buffer.shared``), in a walk that
lets go of its views at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers.cache_utils import DynamicLayer

from rain_guard.backends.transformers.cache_ops import fork, is_plain
from rain_guard.backends.transformers.row_slots import SlotPlan

HEADROOM = 16  # spare positions a new buffer gets (>= 1; the value changes copies, not states)
SPARE_SLOTS = 4  # a gathered buffer has slots for this many times its rows (>= 1), so a walk
# whose rows split keeps them in place; slots never written are never touched (no memory)


@dataclass
class _Buffer:
    """Key and value storage with spare positions; ``filled`` is how many hold states."""

    keys: torch.Tensor  # (slots, heads, capacity, dim)
    values: torch.Tensor
    filled: int
    shared: bool = False  # a copied layer holds it too: its filled positions never change

    @classmethod
    def around(
        cls, keys: torch.Tensor, values: torch.Tensor, extra: int, slots: int = 0
    ) -> _Buffer:
        """A new buffer holding ``keys``/``values`` with room for ``extra`` more positions.

        It has ``slots`` slots, or one per row of ``keys`` if that is more.
        """
        n = keys.shape[-2]
        new = cls.empty(keys, values, max(keys.shape[0], slots), n + extra + HEADROOM, n)
        new.keys[: keys.shape[0], ..., :n, :] = keys
        new.values[: keys.shape[0], ..., :n, :] = values
        return new

    @classmethod
    def gathered(cls, keys: torch.Tensor, values: torch.Tensor, rows: torch.Tensor) -> _Buffer:
        """A new buffer holding the ``rows`` of ``keys``/``values``, gathered straight in.

        It has ``SPARE_SLOTS`` times as many slots as rows.
        """
        n = keys.shape[-2]
        new = cls.empty(keys, values, SPARE_SLOTS * len(rows), n + HEADROOM, n)
        torch.index_select(keys, 0, rows, out=new.keys[: len(rows), ..., :n, :])
        torch.index_select(values, 0, rows, out=new.values[: len(rows), ..., :n, :])
        return new

    @classmethod
    def empty(
        cls, keys: torch.Tensor, values: torch.Tensor, rows: int, room: int, filled: int
    ) -> _Buffer:
        """An unset buffer of ``rows`` rows and ``room`` positions, shaped like ``keys``."""
        return cls(
            keys.new_empty((rows, *keys.shape[1:-2], room, keys.shape[-1])),
            values.new_empty((rows, *values.shape[1:-2], room, values.shape[-1])),
            filled,
        )


class HeadroomLayer(DynamicLayer):
    """A plain attention layer whose one-token updates write in place into spare positions.

    Its rows are the first ``keys.shape[0]`` slots of the buffer; ``take_slots`` moves rows
    between slots in place when the buffer is this layer's alone.
    """

    _buffer: _Buffer | None = None
    _exposed: torch.Tensor | None = None  # the keys view this layer last handed out

    def __copy__(self) -> HeadroomLayer:
        """A copy sharing the buffer, which from then on neither moves rows in place."""
        new = self.__class__.__new__(self.__class__)
        new.__dict__.update(self.__dict__)
        if self._buffer is not None:
            self._buffer.shared = True
        return new

    @classmethod
    def adopt(cls, layer: DynamicLayer) -> HeadroomLayer:
        """Turn ``layer`` (a fork's own object) into a headroom layer over its tensors.

        No copy until its first update or row selection.
        """
        layer.__class__ = cls
        layer._buffer = layer._exposed = None
        return layer

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new states: in place when the buffer has room and is ours to extend."""
        if not self.is_initialized or self.keys.dim() != key_states.dim():
            return super().update(key_states, value_states, *args, **kwargs)
        n, q = self.keys.shape[-2], key_states.shape[-2]
        buffer = self._buffer
        if not self._owns_tail(n) or n + q > buffer.keys.shape[-2]:
            slots = buffer.keys.shape[0] if buffer is not None else 0
            buffer = self._buffer = _Buffer.around(self.keys, self.values, q, slots)
        rows = key_states.shape[0]
        buffer.keys[:rows, ..., n : n + q, :] = key_states
        buffer.values[:rows, ..., n : n + q, :] = value_states
        buffer.filled = n + q
        self._expose(n + q, rows)
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep the rows ``indices``: one gather, into a buffer with spare positions."""
        if self.get_seq_length() == 0:
            return
        n = self.keys.shape[-2]
        if self._owns_tail(n):  # index_select: 1.2-5x faster than indexing, same values
            old = self._buffer
            self._buffer = _Buffer(old.keys.index_select(0, indices),
                                   old.values.index_select(0, indices), n)  # fmt: skip
        else:
            self._buffer = _Buffer.gathered(self.keys, self.values, indices)
        self._expose(n, len(indices))

    def take_slots(self, sources: torch.Tensor, moved: torch.Tensor, origins: torch.Tensor) -> None:
        """Slot j takes the states of slot ``sources[j]``; only the ``moved`` slots change.

        ``origins`` is ``sources[moved]``. In place when the buffer is this layer's alone and
        has the slots (a ``SlotPlan`` never reads a slot it writes); else one gather of every
        row into a new buffer.
        """
        if self.get_seq_length() == 0:
            return
        n, rows, buffer = self.keys.shape[-2], len(sources), self._buffer
        if self._owns_tail(n) and not buffer.shared and rows <= buffer.keys.shape[0]:
            if len(moved):
                for states in (buffer.keys[..., :n, :], buffer.values[..., :n, :]):
                    states.index_copy_(0, moved, states.index_select(0, origins))
        else:
            self._buffer = _Buffer.gathered(self.keys, self.values, sources)
        self._expose(n, rows)

    def _owns_tail(self, n: int) -> bool:
        """Whether the buffer's positions from ``n`` on are free for this layer to write."""
        return self._buffer is not None and self.keys is self._exposed and self._buffer.filled == n

    def _expose(self, n: int, rows: int) -> None:
        """Point ``keys``/``values`` at the first ``n`` positions of the first ``rows`` slots."""
        self.keys = self._exposed = self._buffer.keys[:rows, ..., :n, :]
        self.values = self._buffer.values[:rows, ..., :n, :]


def with_headroom(cache: Any) -> Any:
    """``cache`` with headroom layers when it is a plain cache, else ``cache`` itself.

    A fork (``cache_ops.fork``: new layer objects, shared tensors until the first update
    copies them) whose layers become headroom layers; ``cache`` keeps its plain layers.
    """
    if not is_plain(cache):
        return cache
    walked = fork(cache)
    walked.layers = [HeadroomLayer.adopt(layer) for layer in walked.layers]
    return walked


def take_slots(cache: Any, plan: SlotPlan, device: Any) -> None:
    """Apply a walk step's ``plan`` to ``cache``: moved slots in place on headroom layers.

    Other caches gather their rows in slot order (``batch_select_indices``), the same states.
    """
    sources = torch.tensor(plan.sources, device=device)
    if not all(isinstance(layer, HeadroomLayer) for layer in cache.layers):
        cache.batch_select_indices(sources)
        return
    moved = torch.tensor(plan.moved, dtype=torch.long, device=device)
    origins = sources[moved]  # once for every layer
    for layer in cache.layers:
        layer.take_slots(sources, moved, origins)
