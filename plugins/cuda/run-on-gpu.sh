#!/usr/bin/env bash
# plugins/cuda/run-on-gpu.sh: the one-shot check a session with an NVIDIA GPU runs (docs/cuda.md, issue 12):
# builds with the CUDA plugin, runs the parity suite, measures cuBLAS sgemm GFLOP/s, and runs
# `pixelrnn bench` for every model at hidden 16 and 64 on cuda and on the CPU. Everything goes to one folder.
#
#   plugins/cuda/run-on-gpu.sh [RESULTS_DIR]      (default: gpu-results; $OUT/gpu-results when $OUT is set)
#
# RESULTS_DIR/: env.txt (GPU, driver, commit), build.log, parity.txt (+ parity.rc), sgemm.jsonl,
# bench-<model>-h<H>-<device>.json (+ .err), summary.txt. Exit status: the parity suite's (0 pass, 77 skipped,
# else failed). Each bench run is capped by `timeout` (90 s) and all of them by BENCH_BUDGET (420 s), so the whole
# script fits a short GPU session (about 3 min build + parity + 7 min bench on 16 cores).
set -u
cd "$(dirname "$0")/../.."
RES="${1:-${OUT:+$OUT/}gpu-results}"
mkdir -p "$RES"
BUILD=build-gpu
JOBS=$(nproc)
SECONDS_PER_BENCH=${SECONDS_PER_BENCH:-3}
BENCH_BUDGET=${BENCH_BUDGET:-420}   # seconds for all the bench runs together; the rest are skipped (and listed)
{
  date -u
  git rev-parse HEAD 2>/dev/null || true
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
  nvcc --version 2>&1 | tail -2
  nproc
} > "$RES/env.txt"

echo "== build" | tee "$RES/summary.txt"
if [ ! -d "$BUILD" ]; then meson setup "$BUILD" --buildtype=release -Dcuda=enabled > "$RES/build.log" 2>&1; fi
if ! ninja -C "$BUILD" -j"$JOBS" tools/pixelrnn tests/test_cuda_parity plugins/cuda/libpixelrnn_cuda.so >> "$RES/build.log" 2>&1; then
  echo "build failed: see $RES/build.log" | tee -a "$RES/summary.txt"
  tail -30 "$RES/build.log"
  exit 1
fi
PLUGIN="$PWD/$BUILD/plugins/cuda/libpixelrnn_cuda.so"

echo "== parity suite" | tee -a "$RES/summary.txt"
PIXELRNN_CUDA_PLUGIN_BUILT="$PLUGIN" timeout 240 "$BUILD/tests/test_cuda_parity" > "$RES/parity.txt" 2>&1
PARITY=$?
echo "$PARITY" > "$RES/parity.rc"
tail -5 "$RES/parity.txt" | tee -a "$RES/summary.txt"
echo "parity exit status: $PARITY (0 pass, 77 skipped)" | tee -a "$RES/summary.txt"

echo "== cuBLAS sgemm" | tee -a "$RES/summary.txt"
if nvcc -O3 -std=c++17 plugins/cuda/sgemm_bench.cu -o "$BUILD/sgemm_bench" -lcublas \
     -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=sm_80 >> "$RES/build.log" 2>&1; then
  timeout 120 "$BUILD/sgemm_bench" > "$RES/sgemm.jsonl" 2>&1
  cat "$RES/sgemm.jsonl" | tee -a "$RES/summary.txt"
fi

echo "== bench" | tee -a "$RES/summary.txt"
bench_start=$(date +%s)
for model in pixelcnn row_lstm diagonal_bilstm multiscale; do
  for h in 16 64; do
    for dev in cuda cpu; do
      f="$RES/bench-$model-h$h-$dev"
      if [ $(( $(date +%s) - bench_start )) -gt "$BENCH_BUDGET" ]; then
        echo "$model h=$h $dev: skipped (BENCH_BUDGET=$BENCH_BUDGET s spent)" | tee -a "$RES/summary.txt"
        continue
      fi
      PIXELRNN_CUDA_PLUGIN="$PLUGIN" timeout 90 "$BUILD/tools/pixelrnn" bench --model "$model" --hidden "$h" \
        --device "$dev" --threads "$JOBS" --seconds "$SECONDS_PER_BENCH" --check-images 1 --json \
        > "$f.json" 2> "$f.err"
      rc=$?
      ips=$(python3 -c "import json,sys; print(json.load(open('$f.json'))['train_images_per_s'])" 2>/dev/null || echo "-")
      echo "$model h=$h $dev: rc $rc, train images/s $ips" | tee -a "$RES/summary.txt"
    done
  done
done
echo "results in $RES"
exit "$PARITY"
