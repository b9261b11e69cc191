"""``python -m rain_guard.cli``: the ``rain-guard`` command without the installed script."""

from __future__ import annotations

import sys

from rain_guard.cli.app import main

sys.exit(main())
