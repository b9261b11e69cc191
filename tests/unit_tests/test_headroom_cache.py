"""The headroom cache layer: the same states as a plain layer, in-place appends, safe forks."""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from rain_guard.backends.transformers.cache_ops import fork
from rain_guard.backends.transformers.headroom_cache import HEADROOM, HeadroomLayer, with_headroom


def _states(rows: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 2, n, 4, generator=g), torch.randn(rows, 2, n, 4, generator=g)


def _plain(rows: int = 3, n: int = 5) -> DynamicCache:
    cache = DynamicCache()
    cache.update(*_states(rows, n, 0), 0)
    return cache


def _steps(cache: DynamicCache, seed: int) -> None:
    """Appends, row selections that drop, repeat and reorder rows, and a crop."""
    cache.update(*_states(3, 1, seed), 0)
    cache.batch_select_indices(torch.tensor([2, 0, 0]))
    for step in range(HEADROOM + 3):  # past the first buffer's spare positions
        cache.update(*_states(3, 1, seed + 1 + step), 0)
    cache.batch_select_indices(torch.tensor([1, 2]))
    cache.update(*_states(2, 2, seed + 99), 0)
    cache.crop(-1)
    cache.update(*_states(2, 1, seed + 100), 0)


def test_headroom_layers_hold_exactly_what_plain_layers_hold():
    plain, headroom = _plain(), with_headroom(_plain())
    assert isinstance(headroom.layers[0], HeadroomLayer)
    _steps(plain, 1)
    _steps(headroom, 1)
    assert torch.equal(plain.layers[0].keys, headroom.layers[0].keys)
    assert torch.equal(plain.layers[0].values, headroom.layers[0].values)
    assert headroom.get_seq_length() == plain.get_seq_length()


def test_a_one_token_step_writes_in_place_after_the_first_copy():
    cache = with_headroom(_plain())
    cache.update(*_states(3, 1, 1), 0)
    storage = cache.layers[0].keys.untyped_storage().data_ptr()
    cache.update(*_states(3, 1, 2), 0)
    assert cache.layers[0].keys.untyped_storage().data_ptr() == storage


def test_a_first_row_selection_leaves_room_for_the_next_step():
    cache = with_headroom(_plain())
    cache.batch_select_indices(torch.tensor([0, 0, 2, 1]))
    storage = cache.layers[0].keys.untyped_storage().data_ptr()
    cache.update(*_states(4, 1, 2), 0)
    assert cache.layers[0].keys.untyped_storage().data_ptr() == storage
    assert torch.equal(cache.layers[0].keys[:2, :, :5], _plain().layers[0].keys[[0, 0]])


def test_exposed_states_never_change_and_forks_stay_independent():
    cache = with_headroom(_plain())
    cache.update(*_states(3, 1, 1), 0)
    seen = cache.layers[0].keys
    before = seen.clone()
    other = fork(cache)
    cache.update(*_states(3, 1, 2), 0)
    other.update(*_states(3, 1, 3), 0)  # same spare position of the shared buffer
    assert torch.equal(seen, before)
    assert torch.equal(cache.layers[0].keys[..., -1, :], _states(3, 1, 2)[0][..., 0, :])
    assert torch.equal(other.layers[0].keys[..., -1, :], _states(3, 1, 3)[0][..., 0, :])
    assert torch.equal(cache.layers[0].keys[..., :-1, :], before)


def test_caches_with_other_layers_are_left_as_they_are():
    class Other(DynamicLayer):
        pass

    cache = _plain()
    cache.layers = [Other()]
    assert with_headroom(cache) is cache


def test_the_original_cache_keeps_plain_layers():
    cache = _plain()
    with_headroom(cache).update(*_states(3, 1, 1), 0)
    assert type(cache.layers[0]) is DynamicLayer
    assert cache.get_seq_length() == 5
