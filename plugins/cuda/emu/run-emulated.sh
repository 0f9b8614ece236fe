#!/usr/bin/env bash
# plugins/cuda/emu/run-emulated.sh: runs the CUDA parity suite's kernel cases against the plugin's own sources
# compiled for the CPU (kernel launches and cuBLAS replaced by the stand-ins in plugins/cuda/emu/include/), so
# the kernels' index arithmetic, launch geometry, operand orders and reductions are checked without a GPU.
# It does NOT test CUDA itself (memory model, real concurrency, cuBLAS, float behaviour of the device): the
# parity suite on a GPU (plugins/cuda/run-on-gpu.sh) remains the verification. docs/cuda.md.
#
#   plugins/cuda/emu/run-emulated.sh [BUILD_DIR] [doctest flags...]   (BUILD_DIR default: build)
# The default runs every test case but the 50-step training one (slow under emulation: minutes per model);
# pass -tc='50 training*' to run that one.
set -euo pipefail
cd "$(dirname "$0")/../../.."
BUILD="${1:-build}"
shift || true
ninja -C "$BUILD" tests/test_cuda_parity > /dev/null
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/src" "$W/plugins/cuda"
sed 's/constexpr int kThreads = 256;/constexpr int kThreads = emu::kEmuThreads;/' plugins/cuda/cuda_common.h \
  > "$W/plugins/cuda/cuda_common.h"
grep -q 'kThreads = emu::kEmuThreads' "$W/plugins/cuda/cuda_common.h"
for f in backend kernels gemm_conv residual; do
  # name<<<grid, block>>>(args) -> emu::launch(grid, block, "name", name)(args)
  python3 -c 'import re,sys; s=open(sys.argv[1]).read(); sys.stdout.write(re.sub(r"(\w+)<<<(.*?)>>>\(", lambda m: "emu::launch(%s, \"%s\", %s)(" % (m.group(2), m.group(1), m.group(1)), s))' \
    "plugins/cuda/$f.cu" > "$W/src/$f.cpp"
done
g++ -std=c++17 -O1 -fPIC -shared -pthread -include cuda_runtime.h -Iplugins/cuda/emu/include -I"$W" -I. \
  "$W/src/backend.cpp" "$W/src/kernels.cpp" "$W/src/gemm_conv.cpp" "$W/src/residual.cpp" -o "$W/libpixelrnn_cuda_emu.so"
if [ $# -eq 0 ]; then set -- -tce='50 training*'; fi
PIXELRNN_CUDA_PLUGIN_BUILT="$W/libpixelrnn_cuda_emu.so" "$BUILD/tests/test_cuda_parity" "$@"
