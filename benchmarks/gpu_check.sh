#!/usr/bin/env bash
# One command for an accelerator machine (JAX with CUDA preinstalled; nothing is installed or
# downloaded): the ops' gradient checks, then `cnnjax bench --quick`, on whatever JAX sees.
# Logs and the JSON go to ${OUT:-/tmp}. Budget: under 8 minutes (tests ~5, bench ~2).
# Usage, from the repository root: bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # tests and bench share the GPU politely

{
  echo "== device"
  "$PY" -c "import jax, jaxlib; print('jax', jax.__version__, 'jaxlib', jaxlib.__version__); print(jax.devices())"
} 2>&1 | tee "$OUT/gpu_check_device.log"

echo "== gradient checks: pytest -q tests/ops"
timeout 330 "$PY" -m pytest -q -x -p no:cacheprovider tests/ops \
  > "$OUT/gpu_check_tests.log" 2>&1
tests_rc=$?
tail -n 5 "$OUT/gpu_check_tests.log"

echo "== cnnjax bench --quick"
timeout 150 "$PY" -m cnnjax bench --quick --no-torch --json "$OUT/gpu_bench.json" \
  > "$OUT/gpu_bench.txt" 2> "$OUT/gpu_bench.log"
bench_rc=$?
cat "$OUT/gpu_bench.txt"

echo "== tests rc=$tests_rc bench rc=$bench_rc (logs in $OUT)"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
