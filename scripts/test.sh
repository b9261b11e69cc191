#!/usr/bin/env bash
# Set-up and the test suite in one: install with the dev tools, lint, then run pytest
# (unit and integration tests; the embedded model is used offline). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
.venv/bin/ruff check rain_guard tests graphs examples benchmarks
exec .venv/bin/python -m pytest -q "$@"
