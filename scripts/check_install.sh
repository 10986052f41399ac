#!/usr/bin/env bash
# Installs fanout from a build folder into a temporary prefix, then builds
# examples/cpp_api against that prefix alone, once with find_package(fanout)
# and once with pkg-config, and examples/cpp_transform with find_package; runs
# each and checks its exit status and outputs.
# ctest runs it (label install): scripts/check_install.sh [build folder]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
tmp=$(mktemp -d /tmp/fanout-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() {
  echo "check_install: $*" >&2
  for log in "$tmp"/*.log; do [ -f "$log" ] && { echo "--- $log" >&2; tail -20 "$log" >&2; }; done
  exit 1
}

# Runs an example binary into folder $2 and checks what it wrote.
check_run() {
  local bin=$1 dir=$2
  "$bin" "$dir" > "$tmp/run.log" 2>&1 || fail "$bin exited with status $?"
  grep -q "3 committed, 0 failed" "$tmp/run.log" || fail "$bin: unexpected summary"
  grep -q "succeeded, 3 committed" "$tmp/run.log" || fail "$bin: the manifest read back through the store is not the run's"
  for n in 1 2 3; do
    [ -f "$dir/out/iter_$n/_SUCCESS" ] || fail "$bin: no $dir/out/iter_$n/_SUCCESS"
    compgen -G "$dir/out/iter_$n/part-*.parquet" > /dev/null || fail "$bin: no part file in $dir/out/iter_$n"
  done
}

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" 2>&1 || fail "cmake --install failed"
for f in include/fanout/fanout.h include/fanout/transform.h include/fanout/engine.h include/fanout/status.h include/fanout/job.h include/fanout/store.h include/fanout/record.h bin/fanout; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
libfanout=$(find "$prefix" -name libfanout.a)
[ -n "$libfanout" ] || fail "not installed: libfanout.a"
[ -f "$(dirname "$libfanout")/libduckdb.so" ] || fail "not installed: libduckdb.so beside libfanout.a"
"$prefix/bin/fanout" --help > /dev/null 2>&1 || fail "the installed CLI does not run"

# 1. CMake: find_package(fanout CONFIG REQUIRED) with only the prefix to look in.
cmake -S "$root/examples/cpp_api" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF > "$tmp/configure.log" 2>&1 || fail "configuring examples/cpp_api failed"
grep -q "^fanout_DIR:PATH=$prefix/" "$tmp/cmake/CMakeCache.txt" || fail "fanout was found outside $prefix"
cmake --build "$tmp/cmake" -j 2 > "$tmp/build.log" 2>&1 || fail "building examples/cpp_api failed"
check_run "$tmp/cmake/cpp_api_example" "$tmp/run-cmake"

# 2. pkg-config: the flags name the installed headers and library.
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name fanout.pc)")
flags=$(pkg-config --cflags --libs fanout) || fail "pkg-config --cflags --libs fanout failed"
inc=$(tr ' ' '\n' <<< "$flags" | sed -n 's/^-I//p' | head -1)
lib=$(tr ' ' '\n' <<< "$flags" | sed -n 's/^-L//p' | head -1)
[ -f "$inc/fanout/fanout.h" ] || fail "pkg-config --cflags gives no fanout/fanout.h: $flags"
[ -f "$lib/libfanout.a" ] || fail "pkg-config --libs gives no libfanout.a: $flags"
# shellcheck disable=SC2086  # the flags are words
g++ -std=c++20 "$root/examples/cpp_api/main.cc" $flags -o "$tmp/pc_example" > "$tmp/pkg-config.log" 2>&1 ||
  fail "building examples/cpp_api/main.cc with pkg-config failed"
check_run "$tmp/pc_example" "$tmp/run-pc"

# 3. examples/cpp_transform: a C++ transform and a C++ scalar function, built
# with find_package(fanout); its outputs must be expected/ exactly, and the
# installed CLI must refuse its job (no C++ transforms there) writing nothing.
ex=$root/examples/cpp_transform
cmake -S "$ex" -B "$tmp/cmake-transform" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF > "$tmp/configure-transform.log" 2>&1 ||
  fail "configuring examples/cpp_transform failed"
cmake --build "$tmp/cmake-transform" -j 2 > "$tmp/build-transform.log" 2>&1 || fail "building examples/cpp_transform failed"
"$tmp/cmake-transform/cpp_transform_example" "$ex/job.yaml" "$tmp/run-transform" > "$tmp/transform.log" 2>&1 ||
  fail "cpp_transform_example exited with status $?"
grep -q "3 committed, 0 failed" "$tmp/transform.log" || fail "cpp_transform_example: unexpected summary"
for n in 1 2 3; do
  [ -f "$tmp/run-transform/iter_$n/_SUCCESS" ] || fail "cpp_transform_example: no iter_$n/_SUCCESS"
  diff -u "$ex/expected/iter_$n.csv" "$tmp/run-transform/iter_$n/part-00000.csv" > "$tmp/diff-transform.log" ||
    fail "cpp_transform_example: iter_$n is not expected/iter_$n.csv"
done
[ ! -e "$ex/out" ] || fail "cpp_transform_example wrote into the source tree ($ex/out)"
if "$prefix/bin/fanout" run "$ex/job.yaml" > "$tmp/cli-transform.log" 2>&1; then
  fail "the CLI ran a job with a C++ transform"
fi
grep -q "no C++ transform named 'segment'" "$tmp/cli-transform.log" || fail "the CLI's refusal does not say why"
[ ! -e "$ex/out" ] || fail "the CLI's refused run wrote $ex/out"
echo "check_install: ok (installed to a temporary prefix, examples/cpp_api built with CMake and pkg-config," \
  "examples/cpp_transform with CMake, ran, outputs as expected)"
