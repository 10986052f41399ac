#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test fanout.
# Idempotent and quick when everything is already there.
#  - Debian -dev packages (apt-get, as root or through sudo)
#  - DuckDB 1.4.4 LTS (libduckdb.so + duckdb.h) from the npm registry, pinned by
#    version and sha512 integrity, unpacked into third_party/duckdb/.
#    Skipped when DUCKDB_ROOT points at an existing install (lib/ + include/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

debian_packages=(
  cmake make g++ pkg-config clang
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libxxhash-dev libjemalloc-dev libssl-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nodejs npm
  chromium  # renders the HTML run report headless in the tests (tests/report_test.cc)
  openmpi-bin libopenmpi-dev  # fanout run --backend mpi (src/mpi_backend.cc) and its tests (tests/mpi_test.cc)
  slurm-wlm munge  # the Slurm tests (tests/slurm/): slurmctld + slurmd + munged started by the test
  iproute2  # ip netns: the multi-host MPI test (ranks in network namespaces)
)

missing=()
for p in "${debian_packages[@]}"; do
  # node/npm may come from elsewhere (nodesource, nvm): a working binary is enough.
  case "$p" in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- the test-only Parquet reader (hyparquet), pinned by package-lock.json ----
reader="$root/tests/parquet_reader"
if [ ! -f "$reader/node_modules/.package-lock.json" ] || ! cmp -s "$reader/package-lock.json" "$reader/node_modules/.fanout-lock"; then
  echo "bootstrap: installing the test Parquet reader (npm ci)"
  (cd "$reader" && npm ci --ignore-scripts --no-audit --no-fund --silent)
  cp "$reader/package-lock.json" "$reader/node_modules/.fanout-lock"
fi

# --- DuckDB -----------------------------------------------------------------
duckdb_version=1.4.4
lib_pkg="@duckdb/node-bindings-linux-x64@1.4.4-r.4"
lib_integrity="sha512-jBTL/WvfwxLToFa/pVHfT6elMtltJGnc3wSuxZD9OfMltit9YUdVFS37vBFQzXMT1Z8OWjtSjMh+zPKxOwHLHA=="
hdr_pkg="duckdb@1.4.4"
hdr_integrity="sha512-hEJJ5hyVF0VLj3dmOLpsWrQR0b3d4Ykqtygm6iUXjHJDDnSqg/USKxcb5qvNrOhFYPgktayU6dXCtgPqcmmpog=="

if [ -n "${DUCKDB_ROOT:-}" ] && [ -f "$DUCKDB_ROOT/include/duckdb.h" ]; then
  exit 0
fi
dest="$root/third_party/duckdb"
stamp="$dest/.stamp"
want="$duckdb_version $lib_integrity $hdr_integrity"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dest/lib/libduckdb.so" ] && [ -f "$dest/include/duckdb.h" ]; then
  exit 0
fi

echo "bootstrap: fetching DuckDB $duckdb_version from the npm registry"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$lib_pkg" "$hdr_pkg" >/dev/null 2>"$tmp/npm.err") || { cat "$tmp/npm.err" >&2; exit 1; }

check_integrity() {  # file expected
  local got
  got=$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$1")
  if [ "$got" != "$2" ]; then
    echo "bootstrap: integrity mismatch for $(basename "$1"): expected $2, got $got" >&2
    exit 1
  fi
}
lib_tgz=$(ls "$tmp"/duckdb-node-bindings-linux-x64-*.tgz)
hdr_tgz=$(ls "$tmp"/duckdb-1.4.4.tgz)
check_integrity "$lib_tgz" "$lib_integrity"
check_integrity "$hdr_tgz" "$hdr_integrity"

mkdir -p "$tmp/x"
tar xzf "$lib_tgz" -C "$tmp/x" package/libduckdb.so package/LICENSE
tar xzf "$hdr_tgz" -C "$tmp/x" package/src/duckdb/src/include/duckdb.h
rm -rf "$dest.new" && mkdir -p "$dest.new/lib" "$dest.new/include"
mv "$tmp/x/package/libduckdb.so" "$dest.new/lib/"
mv "$tmp/x/package/LICENSE" "$dest.new/LICENSE"
mv "$tmp/x/package/src/duckdb/src/include/duckdb.h" "$dest.new/include/"
echo "$want" > "$dest.new/.stamp"
rm -rf "$dest" && mv "$dest.new" "$dest"
echo "bootstrap: DuckDB $duckdb_version ready in third_party/duckdb"
