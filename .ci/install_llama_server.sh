#!/usr/bin/env bash
# Installs llama-cpp-python's OpenAI-compatible server into .venv, for the served-engine
# tests (tests/integration_tests/test_served_backend.py). PyPI ships it as source only, so
# pip builds llama.cpp here; pip keeps the built wheel in its cache, so a second run on the
# same machine takes seconds. Run scripts/install.sh first.
#
# Build options (CMake): only what `python -m llama_cpp.server` loads for a text model:
#   GGML_NATIVE=OFF   portable x86-64 kernels (no -march=native: the wheel may be cached and
#                     reused on another CPU of the same fleet)
#   LLAVA_BUILD=OFF   no multimodal (mtmd/clip) library: imported lazily, never by text models
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "no .venv: run scripts/install.sh first" >&2; exit 1; }
if .venv/bin/python -c "import llama_cpp.server" 2>/dev/null; then
  echo "llama-cpp-python[server] already installed"
  exit 0
fi
export CMAKE_ARGS="${CMAKE_ARGS:-} -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
echo "building llama-cpp-python[server] 0.3.36 from source with ${CMAKE_BUILD_PARALLEL_LEVEL}" \
  "parallel jobs (about 10-40 minutes on 2 cores) ..."
start=$(date +%s)
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  "llama-cpp-python[server]==0.3.36"
echo "llama-cpp-python[server] installed in $(( $(date +%s) - start )) s"
