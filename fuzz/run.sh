#!/usr/bin/env bash
# fuzz/run.sh: build the libFuzzer targets with clang and run them.
#   fuzz/run.sh [SECONDS]   (default 20 s per target)
# For each target: every file in fuzz/regressions/<target>/ is run once (must not
# crash), then the target fuzzes for SECONDS starting from fuzz/corpus/<target>/
# (new inputs go to a scratch copy; the committed corpus is not modified).
# Exits non-zero on any crash, timeout, OOM or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-20}"
BUILD=build-fuzz
if [ ! -f "$BUILD/build.ninja" ]; then
  CXX=clang++ meson setup "$BUILD" -Dfuzz=true >/dev/null
fi
targets=(fuzz_idx fuzz_cifar fuzz_png fuzz_npy fuzz_compressed)
[ -f fuzz/fuzz_checkpoint.cpp ] && targets+=(fuzz_checkpoint)
ninja -C "$BUILD" $(printf 'fuzz/%s ' "${targets[@]}")
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
fail=0
for t in "${targets[@]}"; do
  exe="$BUILD/fuzz/$t"
  log="$scratch/$t.log"
  reg="fuzz/regressions/$t"
  if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
    echo "== $t: regressions ($(ls "$reg" | wc -l) inputs)"
    if ! "$exe" -rss_limit_mb=2048 -timeout=10 "$reg"/* >"$log" 2>&1; then
      echo "!! $t: a regression input failed:"; tail -40 "$log"; fail=1; continue
    fi
  fi
  mkdir -p "$scratch/corpus-$t"
  [ -d "fuzz/corpus/$t" ] && cp -r "fuzz/corpus/$t/." "$scratch/corpus-$t/"
  echo "== $t: fuzzing for ${SECS}s"
  if ! "$exe" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
      -artifact_prefix="$scratch/$t-" "$scratch/corpus-$t" >"$log" 2>&1; then
    echo "!! $t: crash or sanitizer report:"; tail -40 "$log"
    mkdir -p "fuzz/crashes/$t"
    cp "$scratch/$t-"* "fuzz/crashes/$t/" 2>/dev/null && echo "   reproducer(s) saved in fuzz/crashes/$t/"
    fail=1; continue
  fi
  if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:" "$log"; then
    echo "!! $t: sanitizer report:"; grep -E "ERROR|runtime error" "$log" | head; fail=1; continue
  fi
  grep -E "^Done|#[0-9]+.*DONE" "$log" | tail -1 || true
done
[ "$fail" = 0 ] && echo "fuzz: all targets passed" || echo "fuzz: FAILURES"
exit "$fail"
