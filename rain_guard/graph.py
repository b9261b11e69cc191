"""Old import path of ``rain_guard.search.graph`` (kept for existing code)."""

from rain_guard.search.graph import *  # noqa: F403
