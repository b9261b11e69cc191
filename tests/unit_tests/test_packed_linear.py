"""pack_linears: oneDNN-reordered linear weights change speed, not what the model computes."""

from __future__ import annotations

import pytest
import torch
from tiny_models import make_model

from rain_guard.backends.base import ProposalRequest
from rain_guard.backends.transformers import TransformersBackend
from rain_guard.backends.transformers.packed_linear import (
    MIN_ROWS,
    PackedLinear,
    can_pack,
    linear_bytes,
    pack_linears,
)

pytestmark = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="this torch build has no oneDNN"
)


def test_a_packed_layer_computes_what_the_plain_one_does_for_any_row_count():
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 96)
    plain = torch.nn.Linear(64, 96)
    plain.load_state_dict(layer.state_dict())
    assert pack_linears(torch.nn.Sequential(layer)) == 1
    assert isinstance(layer, PackedLinear)
    for rows in (1, MIN_ROWS - 1, MIN_ROWS, 25):
        x = torch.randn(rows, 3, 64)
        torch.testing.assert_close(layer(x), plain(x), rtol=1e-5, atol=1e-5)
    assert set(layer.state_dict()) == {"weight", "bias"}  # the packed copy is not saved


def test_packing_keeps_tied_weights_tied_and_counts_every_linear(tokenizer):
    model = make_model(len(tokenizer))
    tied = model.lm_head.weight is model.model.embed_tokens.weight
    linears = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    before = linear_bytes(model)
    assert pack_linears(model) == linears
    assert (model.lm_head.weight is model.model.embed_tokens.weight) == tied
    assert linear_bytes(model) == before
    assert pack_linears(model) == 0  # already packed: nothing left to pack


def test_only_float32_cpu_models_are_packed(tokenizer):
    model = make_model(len(tokenizer)).to(torch.bfloat16)
    assert not can_pack(model)
    assert pack_linears(model) == 0
    assert not any(isinstance(m, PackedLinear) for m in model.modules())


def test_a_backend_with_packed_weights_proposes_what_it_proposes_without(tokenizer):
    """Same candidate sets, log-probabilities within float32 rounding, for a batch of rows."""
    plain = TransformersBackend(make_model(len(tokenizer)), tokenizer)
    packed = TransformersBackend(make_model(len(tokenizer)), tokenizer, pack_weights=True)
    assert plain.packed_linears == 0 and packed.packed_linears > 0
    prefix = tuple(plain.chat_prompt_ids([("user", "hello there")]))
    request = ProposalRequest(prefix=prefix, num_candidates=8, length=3, top_k=15, seed=1)
    ours, theirs = packed.propose([request])[0], plain.propose([request])[0]
    assert [c.tokens for c in ours] == [c.tokens for c in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)
