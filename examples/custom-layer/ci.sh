#!/usr/bin/env bash
# examples/custom-layer/ci.sh: CI's check that another project can use ours the Meson way (docs/extending.md,
# "Using the framework from your own project"). Run by .ci/run after the release tests; any failure fails CI.
#   1. `meson install --destdir` of the release build into a scratch directory; the installed tree has the
#      program, the libraries, the headers and pixelfw.pc / pixelmodels.pc, and every installed header compiles on
#      its own against it (packaging/check-installed-headers).
#   2. The example against that installed tree: PKG_CONFIG_PATH at the installed .pc files (they are relocatable,
#      prefix=${pcfiledir}/..., so the DESTDIR copy works where it lies), --wrap-mode=nofallback so the subproject
#      cannot stand in; built, linked statically against the installed libraries, run; and built again by a plain
#      `c++ ... $(pkg-config [--static] --cflags --libs pixelmodels)`, run.
#   3. The example with the repository as its subproject (a copy of the example, subprojects/pixelrnn a symlink to
#      this checkout, -Dforce_fallback_for=pixelfw,pixelmodels): only the libraries and the example are built
#      (checked: no tools, tests or bench targets exist), run.
# Usage: examples/custom-layer/ci.sh [BUILD]   (BUILD: a configured build of this repository, default build/)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
example="$repo/examples/custom-layer"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
say() { echo "== custom-layer: $*"; }
fail() { echo "custom-layer ci: $*" >&2; exit 1; }
t0=$(date +%s)

# 1. Install into a scratch DESTDIR and look at what landed there.
say "meson install --destdir $scratch/stage"
meson install -C "$build" --destdir "$scratch/stage" --quiet
pc=$(find "$scratch/stage" -name pixelfw.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || fail "no pixelfw.pc under $scratch/stage"
pcdir=$(dirname "$pc")
[ -f "$pcdir/pixelmodels.pc" ] || fail "no pixelmodels.pc beside $pc"
libdir=$(dirname "$pcdir")
for lib in libpixelfw.a libpixeldist.a libpixelmodels.a; do
  [ -f "$libdir/$lib" ] || fail "$libdir/$lib was not installed"
done
exe=$(find "$scratch/stage" -path '*/bin/pixelrnn' -type f)
[ -n "$exe" ] || fail "the pixelrnn program was not installed"
"$exe" --version
export PKG_CONFIG_PATH="$pcdir"
echo "pkg-config --cflags --libs pixelmodels: $(pkg-config --cflags --libs pixelmodels)"
"$repo/packaging/check-installed-headers"
t1=$(date +%s)

# 2. The example against the installed tree.
say "the example against the installed tree (PKG_CONFIG_PATH=$pcdir)"
meson setup "$scratch/ex-installed" "$example" --wrap-mode=nofallback >"$scratch/setup-installed.log" \
  || { cat "$scratch/setup-installed.log"; fail "configuring the example against the installed tree failed"; }
grep -E 'Run-time dependency pixel(fw|models)' "$scratch/setup-installed.log"
ninja -C "$scratch/ex-installed"
"$scratch/ex-installed/custom_layer"
# Without Meson (which wraps the libraries in --start-group): the plain pkg-config command lines, whose library
# order must be right by themselves, with and without --static.
for static in "" --static; do
  # shellcheck disable=SC2046,SC2086  # the flags are meant to split
  "${CXX:-c++}" -std=c++17 -O1 "$example/custom_layer.cpp" -o "$scratch/plain" $(pkg-config $static --cflags --libs pixelmodels) \
    || fail "linking the example with \$(pkg-config $static --cflags --libs pixelmodels) failed"
  "$scratch/plain" > "$scratch/plain.log" || { cat "$scratch/plain.log"; fail "the example linked by pkg-config $static failed"; }
  echo "pkg-config $static command line: $(tail -1 "$scratch/plain.log")"
done
t2=$(date +%s)

# 3. The example with the repository as a subproject (no pkg-config path: the fallback is forced anyway).
say "the example with subprojects/pixelrnn -> $repo"
mkdir -p "$scratch/sub/subprojects"
cp "$example/meson.build" "$example/custom_layer.cpp" "$scratch/sub/"
ln -s "$repo" "$scratch/sub/subprojects/pixelrnn"
unset PKG_CONFIG_PATH
meson setup "$scratch/sub/build" "$scratch/sub" -Dforce_fallback_for=pixelfw,pixelmodels \
  >"$scratch/setup-sub.log" || { cat "$scratch/setup-sub.log"; fail "configuring the example as a subproject failed"; }
overridden='^Dependency pixel(fw|models) found: YES .*\(overridden\)'  # Meson's line for an overridden dependency
if [ "$(grep -cE "$overridden" "$scratch/setup-sub.log")" -ne 2 ]; then
  cat "$scratch/setup-sub.log"
  fail "pixelfw and pixelmodels did not both come from the subproject (log above)"
fi
grep -E "$overridden" "$scratch/setup-sub.log"
# The subproject's linked targets: the three libraries (and models/draw_receptive_fields, never built by default).
extra=$(ninja -C "$scratch/sub/build" -t targets all | grep -E '^subprojects/pixelrnn/[^ ]*: [a-z_]*LINKER' \
  | grep -vE '^subprojects/pixelrnn/(libpixelfw\.a|libpixeldist\.a|libpixelmodels\.a|models/draw_receptive_fields):' \
  || true)
[ -z "$extra" ] || fail "the subproject build has more than the libraries: $extra"
ninja -C "$scratch/sub/build"
"$scratch/sub/build/custom_layer"
t3=$(date +%s)
say "install + header check $((t1 - t0)) s, installed-tree example $((t2 - t1)) s, subproject example $((t3 - t2)) s"
