"""Operations on transformers KV caches: new, fork, crop, stack left-padded, take one row.

Every operation here leaves the tensors of the caches it reads untouched: plain attention
layers (``DynamicLayer``) rebind ``keys``/``values`` on update, crop and batch ops instead of
writing in place, so a fork that copies only the layer objects is an independent cache. Caches
with other layers (sliding windows, recurrent states) may update in place; ``is_plain`` tells
them apart, and the callers neither keep nor fork those.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

logger = logging.getLogger(__name__)


def new_cache(config: Any) -> Any:
    """An empty cache for a model with ``config``."""
    try:
        return DynamicCache(config=config)
    except Exception:  # noqa: BLE001 - configs without layer types: lazy layers
        return DynamicCache()


def fork(cache: Any) -> Any:
    """An independent view of a plain cache: updates to either leave the other intact.

    Copying the layer objects suffices (0.06 ms, no tensor copy), because updates, crops
    and batch ops of ``DynamicLayer`` rebind ``keys``/``values`` instead of writing in
    place; a unit test pins that.
    """
    forked = copy.copy(cache)
    forked.layers = [copy.copy(layer) for layer in cache.layers]
    return forked


def is_plain(cache: Any) -> bool:
    """True for a DynamicCache of plain attention layers, whose ops never write in place."""
    return (
        type(cache) is DynamicCache
        and all(type(layer) is DynamicLayer for layer in cache.layers)
        and (cache.layers or cache.layer_class_to_replicate is DynamicLayer)
    )


def cropped(cache: Any, keep: int) -> Any | None:
    """A fork of ``cache`` holding its first ``keep`` positions, or None when it cannot crop."""
    short = fork(cache)
    current = short.get_seq_length()
    try:
        if current > keep:
            short.crop(-(current - keep))  # transformers 5.24 accepts only n <= 0
    except (ValueError, NotImplementedError, RuntimeError) as exc:
        logger.debug("cache crop failed (%s); recomputing the prefix", exc)
        return None
    return short if short.get_seq_length() == keep else None


def stacked(caches: list[Any], keeps: list[int], held: int, config: Any) -> Any:
    """One batched cache of ``held`` positions; row i ends with ``caches[i]``.

    The positions before a row's own ``keeps[i]`` are zeros (the caller masks them out); a
    row without a cache (None) is all zeros. One allocation and one copy per layer.
    """
    layers = next(c for c in caches if c is not None).layers
    batch = new_cache(config)
    for index, like in enumerate(layers):
        keys = like.keys.new_zeros(_batch_shape(like.keys, len(caches), held))
        values = like.values.new_zeros(_batch_shape(like.values, len(caches), held))
        for row, (cache, keep) in enumerate(zip(caches, keeps, strict=True)):
            if cache is not None:
                keys[row, :, held - keep :] = cache.layers[index].keys[0]
                values[row, :, held - keep :] = cache.layers[index].values[0]
        batch.update(keys, values, index)
    return batch


def row_of(batch: Any, row: int, start: int, end: int, config: Any) -> Any:
    """A single-row cache of positions ``start:end`` of one row of a batched cache."""
    cache = new_cache(config)
    for index, layer in enumerate(batch.layers):
        keys = layer.keys[row : row + 1, :, start:end]
        cache.update(keys, layer.values[row : row + 1, :, start:end], index)
    return cache


def rows_after(batch: Any, rows: list[int], start: int, config: Any, device: Any) -> Any:
    """A cache of the positions from ``start`` on of the given rows of a batched cache.

    One copy per layer for all the rows, so the batch itself can be freed.
    """
    index = torch.tensor(rows, device=device)
    tail = new_cache(config)
    for i, layer in enumerate(batch.layers):
        keys = layer.keys[:, :, start:].index_select(0, index)
        tail.update(keys, layer.values[:, :, start:].index_select(0, index), i)
    return tail


def _batch_shape(states: torch.Tensor, rows: int, positions: int) -> tuple[int, ...]:
    """The shape of ``rows`` rows of ``positions`` positions like (1, heads, n, dim) ``states``."""
    return (rows, *states.shape[1:-2], positions, states.shape[-1])
