"""Old import path of ``rain_guard.search.run`` (kept for existing code)."""

from rain_guard.search.run import *  # noqa: F403
