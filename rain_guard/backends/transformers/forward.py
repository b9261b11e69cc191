"""ModelCalls: the one place the in-process engine calls its model, counting the work.

Every forward pass goes through ``ModelCalls.forward``: it adapts to the model's keyword names
(``cache`` or ``past_key_values``, with or without ``logits_to_keep``), counts forward calls
and fed tokens in the backend's ``WorkCounters`` and lets the KV memory meter look at the
cache in use.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch

from rain_guard.backends.base import WorkCounters
from rain_guard.backends.transformers.cache_ops import new_cache
from rain_guard.backends.transformers.kv_memory import KVMemoryMeter
from rain_guard.errors import BackendError


class ModelCalls:
    """A causal LM's forward calls on KV caches, counted.

    Args:
        model: The causal LM, in eval mode.
        model_name: Name in error messages.
        counters: Where calls, fed tokens and reused prefix tokens are counted.
        kv_memory: Told about the cache after each call.

    Attributes:
        vocab: Rows of the input embedding (the largest valid token id + 1).
        device: The model's device; inputs are moved there, draws stay on the CPU.
    """

    def __init__(
        self, model: Any, model_name: str, counters: WorkCounters, kv_memory: KVMemoryMeter
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.counters = counters
        self.kv_memory = kv_memory
        self.vocab = int(model.get_input_embeddings().num_embeddings)
        self.device = model.device
        self._cache_kw = cache_keyword(model)
        self._has_logits_to_keep = "logits_to_keep" in inspect.signature(model.forward).parameters

    def new_cache(self) -> Any:
        """An empty cache for this model."""
        return new_cache(self.model.config)

    def extend(self, cache: Any, tokens: Sequence[int]) -> torch.Tensor:
        """Feed ``tokens`` as one row; the logits after the last one, (vocab,) float32."""
        input_ids = torch.tensor([list(tokens)], dtype=torch.long)
        return self.forward(input_ids, cache, None, keep=1)[0, -1]

    def step_rows(self, cache: Any, tokens: Sequence[int]) -> torch.Tensor:
        """Feed one token to each row of a batched cache; (rows, vocab) float32 logits."""
        input_ids = torch.tensor(list(tokens), dtype=torch.long).view(-1, 1)
        return self.forward(input_ids, cache, None, keep=1)[:, -1]

    def forward(
        self,
        input_ids: torch.Tensor,
        cache: Any,
        mask: torch.Tensor | None,
        keep: Any,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One model call; ``keep`` is 1 (last position) or a tensor of positions to return.

        ``mask``: the (rows, cached + fed positions) attention mask, None when nothing is
        masked. ``positions``: explicit position ids, (rows, tokens), for rows whose cached
        parts differ in length (None: each row continues right after the cache).
        """
        kwargs: dict[str, Any] = {self._cache_kw: cache, "use_cache": True}
        if mask is not None:
            kwargs["attention_mask"] = mask.to(self.device)
        if positions is not None:
            kwargs["position_ids"] = positions.to(self.device)
        if self._has_logits_to_keep:
            kwargs["logits_to_keep"] = keep
        try:
            out = self.model(input_ids=input_ids.to(self.device), **kwargs)
        except Exception as exc:
            raise BackendError(f"{self.model_name} forward pass failed: {exc}") from exc
        self.counters.forward_calls += 1
        self.kv_memory.observe(cache)
        fed = mask[:, -input_ids.shape[1] :].sum() if mask is not None else input_ids.numel()
        self.counters.tokens_processed += int(fed)
        logits = out.logits
        if not self._has_logits_to_keep:
            logits = logits[:, -1:] if isinstance(keep, int) else logits[:, keep]
        return logits.float()

    def count_reuse(self, tokens: int) -> None:
        """Count ``tokens`` prefix positions taken from a kept cache instead of fed."""
        extra = self.counters.extra
        extra["prefix_tokens_reused"] = extra.get("prefix_tokens_reused", 0) + tokens


def cache_keyword(model: Any) -> str:
    """The keyword ``model``'s forward takes its KV cache by: ``cache`` or ``past_key_values``."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"
