"""``OpenAICompletionsBackend`` and its errors, by the name users import them from.

The engine lives in ``rain_guard.backends.served``; see ``served.backend`` for how each
protocol call maps onto requests, and docs/served_engines.md.
"""

from rain_guard.backends.served import (
    OpenAICompletionsBackend,
    ServerRequestError,
    ServerUnavailableError,
)

__all__ = ["OpenAICompletionsBackend", "ServerRequestError", "ServerUnavailableError"]
