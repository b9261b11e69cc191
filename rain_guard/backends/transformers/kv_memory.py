"""KV-cache memory: the bytes a backend's caches hold, what prefix reuse costs in memory.

Reusing prefixes trades memory for compute: the kept prefix caches (``max_cached_prefixes``
of them, plus pinned evaluator prefixes) and the batched cache of a sampling walk stay in
memory between calls. ``KVMemoryMeter`` measures that exactly, from the tensors themselves:
each key/value storage is counted once however many caches share it (a fork shares its
source's storages until it is extended; a cropped view keeps its whole storage alive).

It samples after each forward call, so its peak is that of the caches held between calls,
not of the transient copies inside one (a cache update concatenates, briefly holding the old
and the new tensor). Pinned prefixes are held for a whole run and reported apart, so a peak
measured over one request is that request's own cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


def storages(caches: Iterable[Any]) -> dict[int, int]:
    """Distinct key/value storages of ``caches``' layers: data pointer -> bytes."""
    out: dict[int, int] = {}
    for cache in caches:
        for layer in getattr(cache, "layers", ()):
            for tensor in (getattr(layer, "keys", None), getattr(layer, "values", None)):
                if isinstance(tensor, torch.Tensor) and tensor.numel():
                    storage = tensor.untyped_storage()
                    out[storage.data_ptr()] = storage.nbytes()
    return out


def kv_bytes_per_token(model: Any) -> int | None:
    """Bytes of keys and values one token adds to a full-attention cache of ``model``.

    2 (keys, values) x layers x key/value heads x head size x bytes per element; None when
    the config does not say (e.g. no ``num_hidden_layers``).
    """
    config = getattr(model, "config", None)
    config = getattr(config, "get_text_config", lambda: config)()
    layers = getattr(config, "num_hidden_layers", None)
    heads = getattr(config, "num_attention_heads", None)
    if not layers or not heads:
        return None
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    itemsize = next(model.parameters()).element_size()
    return 2 * layers * kv_heads * head_dim * itemsize


class KVMemoryMeter:
    """Peak bytes of KV cache held: the kept prefix caches plus the cache in use.

    The backend calls ``keep`` whenever its kept caches change and ``observe`` after each
    forward call. Read ``peak_bytes`` after a request, ``reset_peak`` before the next.

    Attributes:
        kept_bytes: Bytes of the kept prefix caches, without the pinned ones.
        pinned_bytes: Bytes of the pinned prefix caches.
        peak_bytes: Most bytes held at once since the last ``reset_peak`` (pinned apart).
    """

    def __init__(self) -> None:
        self._held: set[int] = set()  # storages of the kept and pinned caches
        self.kept_bytes = 0
        self.pinned_bytes = 0
        self.peak_bytes = 0

    def keep(self, kept: Iterable[Any], pinned: Iterable[Any]) -> None:
        """The backend now keeps the ``kept`` and ``pinned`` caches.

        Sets ``kept_bytes`` (the kept caches, without storages a pinned one holds) and
        ``pinned_bytes`` (held until the backend's cache is cleared).
        """
        pinned_storages = storages(pinned)
        kept_storages = {p: n for p, n in storages(kept).items() if p not in pinned_storages}
        self._held = set(pinned_storages) | set(kept_storages)
        self.kept_bytes = sum(kept_storages.values())
        self.pinned_bytes = sum(pinned_storages.values())
        self.peak_bytes = max(self.peak_bytes, self.kept_bytes)

    def observe(self, cache: Any) -> None:
        """After a forward call: the kept caches plus ``cache``'s own storages are held."""
        live = sum(n for p, n in storages([cache]).items() if p not in self._held)
        self.peak_bytes = max(self.peak_bytes, self.kept_bytes + live)

    def reset_peak(self) -> None:
        """Start a new measurement from what is kept now."""
        self.peak_bytes = self.kept_bytes
