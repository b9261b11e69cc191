"""Old import path of the search graph, its state and context, and the resumable graph."""

from rain_guard.search.context import *  # noqa: F403
from rain_guard.search.graph import *  # noqa: F403
from rain_guard.search.resume import *  # noqa: F403
from rain_guard.search.state import *  # noqa: F403
