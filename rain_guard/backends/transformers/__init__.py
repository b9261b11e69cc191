"""The in-process engine: a Hugging Face causal LM with kept KV caches and batched sampling."""

from rain_guard.backends.transformers.backend import TransformersBackend

__all__ = ["TransformersBackend"]
