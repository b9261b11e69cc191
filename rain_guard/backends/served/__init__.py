"""The served engine: RAIN over an OpenAI-compatible ``/v1/completions`` (vLLM, SGLang, llama.cpp).

``backend`` holds the Backend protocol calls; ``completions`` the requests (token-id or text
prompts), ``choices`` the answers read back to ids, ``proposals`` the candidate sets,
``logprobs`` the probabilities read from top alternatives, ``rows`` how a call's rows are sent
concurrently and ``http`` the client (which bounds the requests in flight). Nothing here
imports torch.
"""

from rain_guard.backends.served.backend import OpenAICompletionsBackend
from rain_guard.backends.served.http import ServerRequestError, ServerUnavailableError

__all__ = ["OpenAICompletionsBackend", "ServerRequestError", "ServerUnavailableError"]
