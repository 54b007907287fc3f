#!/usr/bin/env bash
# make bench: dbtool against the mariadb client on the same SQL, in the same run.
# Method, workloads and settings: docs/PERFORMANCE.md. The table goes to stdout and to
# bench/results/latest.md (raw samples: bench/results/latest.json).
#
#   ./bench/run.sh                          # default: 7 paired rounds, 200 MiB and 1 GiB seeds
#   BENCH_RUNS=1 BENCH_1GB=0 ./bench/run.sh # quick smoke test
#
# Settings (environment): BENCH_URL (server, no database; default mysql://root@127.0.0.1:3306),
# BENCH_RUNS, BENCH_WARMUP, BENCH_1GB, BENCH_200MB, BENCH_VERSION_REPS, BENCH_ONLY,
# BENCH_STRICT, BENCH_TMPDIR (where the workload files go; default $TMPDIR or /tmp),
# CARGO_TARGET_DIR (honoured by the build), CC (compiles bench/spawn.c; default cc).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

export BENCH_URL=${BENCH_URL:-mysql://root@127.0.0.1:3306}
bench_py="$repo/bench/bench.py"

for tool in cargo mariadb python3 "${CC:-cc}"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done

# 1. Build dbtool (release). cargo itself honours CARGO_TARGET_DIR (and .cargo/config);
#    cargo metadata says where that put the binary.
echo "bench: cargo build --release${CARGO_TARGET_DIR:+ (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)}" >&2
cargo build --release --quiet
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
dbtool="$target_dir/release/dbtool"
[ -x "$dbtool" ] || { echo "bench: no binary at $dbtool after the build" >&2; exit 1; }
echo "bench: dbtool binary: $dbtool" >&2

# 2. The server must answer.
if ! server_version=$(python3 "$bench_py" check --url "$BENCH_URL"); then
    echo "bench: FAILED: no MySQL/MariaDB server answers at $BENCH_URL (start one, or set BENCH_URL)" >&2
    exit 1
fi
echo "bench: server $server_version at $BENCH_URL" >&2

# 3. A unique database prefix and a temp dir; both are removed on exit, whatever happens.
prefix="dbtool_bench_$(date -u +%Y%m%d%H%M%S)_$$"
workdir=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/dbtool-bench.XXXXXX")
cleanup() {
    local rc=$?
    python3 "$bench_py" cleanup --url "$BENCH_URL" --prefix "$prefix" ||
        echo "bench: WARNING: could not drop the databases $prefix*; drop them by hand" >&2
    rm -rf "$workdir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The measuring helper: times one command and reads its peak RSS with wait4() (see spawn.c for
# why Python cannot do the RSS part itself). Static if the C library allows, for a lower floor.
"${CC:-cc}" -O2 -static -o "$workdir/spawn" bench/spawn.c 2>/dev/null ||
    "${CC:-cc}" -O2 -o "$workdir/spawn" bench/spawn.c

mkdir -p "$repo/bench/results"
python3 "$bench_py" run --url "$BENCH_URL" --prefix "$prefix" --dbtool "$dbtool" \
    --spawn "$workdir/spawn" --workdir "$workdir" --out "$repo/bench/results/latest.md"
