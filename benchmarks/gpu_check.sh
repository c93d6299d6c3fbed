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
# The float32 bound of the tolerance table (1e-4) assumes IEEE float32 arithmetic; on GPUs
# JAX's default matmul/conv precision may use TF32 (~1e-3), so the checks run at "highest".
# xdist spreads the many small compilations over the host's cores when it is installed.
xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8)
JAX_DEFAULT_MATMUL_PRECISION=highest timeout 330 "$PY" -m pytest -q -p no:cacheprovider \
  "${xdist[@]}" tests/ops > "$OUT/gpu_check_tests.log" 2>&1
tests_rc=$?
tail -n 5 "$OUT/gpu_check_tests.log"

echo "== cnnjax bench --quick"
timeout 150 "$PY" -m cnnjax bench --quick --no-torch --json "$OUT/gpu_bench.json" \
  > "$OUT/gpu_bench.txt" 2> "$OUT/gpu_bench.log"
bench_rc=$?
cat "$OUT/gpu_bench.txt"

echo "== tests rc=$tests_rc bench rc=$bench_rc (logs in $OUT)"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
