#!/usr/bin/env bash
# `rain-guard bench` on one GPU with random-weight Llama-shaped models (1B and 8B shapes; no
# weights travel to a device machine): what the issue-5 ratios look like on an accelerator.
# Usage: bash benchmarks/bench_gpu.sh [OUT_DIR]  (default out/bench_gpu; DEVICE=cpu for a dry run)
#
# On a device machine without network the script expects, carried in .devcarry/:
#   whl/    wheels the machine lacks (pydantic, langchain-core, langgraph and their needs)
#   data/   a copy of ../shared/data (prompts; the dev split)
#   cache/models/smollm2-135m-instruct/   the embedded model's tokenizer files
# Elsewhere it uses the installed packages, ../shared/data and the embedded model's cache.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-out/bench_gpu}}
mkdir -p "$out"
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
if [ -d .devcarry/whl ] && ! $PY -c "import langgraph, pydantic" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .devcarry/whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
[ -d .devcarry/data ] && export RAIN_GUARD_DATA=$PWD/.devcarry/data
[ -d .devcarry/cache ] && export RAIN_GUARD_CACHE=$PWD/.devcarry/cache
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1
bench() {  # name, time limit (s), bench options...
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit} s)"
  local start=$SECONDS
  # SIGINT at the limit: Python prints where it was.
  timeout -s INT "$limit" $PY -m rain_guard.cli bench --device "${DEVICE:-cuda}" \
    --dtype bfloat16 --threads 4 --no-similarity --json "$out/$name.json" "$@" \
    > "$out/$name.md" 2> "$out/$name.err"
  echo "   rc=$? in $((SECONDS - start)) s"
  tr '\r' '\n' < "$out/$name.err" | grep -v '^$' | tail -n 12
  rm -f "$out/$name.json"  # the markdown has it all; fewer files to carry back
}
# Model build and decoding speed first: a broken GPU path shows here in seconds (the step time
# includes the first call's CUDA warm-up, so read it as an upper bound).
$PY - <<'PY' 2>&1 | tee "$out/probe.txt"
import time, torch
from rain_guard.backends.loading import load_backend
for name in ("random:llama-1b",):
    t = time.perf_counter()
    backend = load_backend(name, dtype="bfloat16", device="cuda")
    torch.cuda.synchronize()
    built = time.perf_counter() - t
    ids = list(range(100, 140))
    t = time.perf_counter()
    backend.generate(ids, max_new_tokens=20, seed=None)
    step = (time.perf_counter() - t) / 20
    print(f"{backend.model_name}: device {backend.model.device}, built in {built:.1f} s, "
          f"{step * 1000:.1f} ms per cached decoding step")
    del backend
PY
SETTINGS=(--max-tokens "${TOKENS:-16}" --t-min 2 --t-max 6)
bench llama1b 110 --model random:llama-1b --limit "${LIMIT:-1}" "${SETTINGS[@]}"
bench llama8b 140 --model random:llama-8b --limit "${LIMIT:-1}" "${SETTINGS[@]}"
