"""Old import path of ``rain_guard.search.graph`` and ``rain_guard.search.resume``."""

from rain_guard.search.graph import *  # noqa: F403
from rain_guard.search.resume import *  # noqa: F403
