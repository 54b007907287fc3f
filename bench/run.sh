#!/usr/bin/env bash
# make bench: dbtool against the mariadb client on the same SQL, in the same run.
# Method, workloads and settings: docs/PERFORMANCE.md. The table goes to stdout and to
# bench/results/latest.md (raw samples: bench/results/latest.json).
#
#   ./bench/run.sh                          # default: 7 paired rounds, 200 MiB and 1 GiB seeds
#   BENCH_RUNS=1 BENCH_1GB=0 ./bench/run.sh # quick smoke test
#
# Settings (environment): BENCH_URL (server, no database; default mysql://root@127.0.0.1:3306),
# BENCH_MYSQL_URL (a second server, MySQL; default DBTOOL_TEST_MYSQL_URL; unset: no second run),
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

# 2.-4. One run per server: BENCH_URL (MariaDB here), then MySQL when BENCH_MYSQL_URL (default:
#    DBTOOL_TEST_MYSQL_URL, the test suite's MySQL) names one. Each writes its own report.
# The measuring helper: times one command and reads its peak RSS with wait4() (see spawn.c for
# why Python cannot do the RSS part itself). Static if the C library allows, for a lower floor.
tools=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/dbtool-bench-tools.XXXXXX")
"${CC:-cc}" -O2 -static -o "$tools/spawn" bench/spawn.c 2>/dev/null ||
    "${CC:-cc}" -O2 -o "$tools/spawn" bench/spawn.c
mkdir -p "$repo/bench/results"

# Runs the whole bench against one server ($1) into one report ($2).
run_on() {
    local url=$1 out=$2 server_version prefix workdir status=0
    if ! server_version=$(python3 "$bench_py" check --url "$url"); then
        echo "bench: FAILED: no MySQL/MariaDB server answers at $url (start one, or set BENCH_URL)" >&2
        return 1
    fi
    echo "bench: server $server_version at $url" >&2
    # A unique database prefix and a temp dir; both are removed afterwards, whatever happens.
    prefix="dbtool_bench_$(date -u +%Y%m%d%H%M%S)_$$"
    workdir=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/dbtool-bench.XXXXXX")
    cleanup_now=("$url" "$prefix" "$workdir")
    python3 "$bench_py" run --url "$url" --prefix "$prefix" --dbtool "$dbtool" \
        --spawn "$tools/spawn" --workdir "$workdir" --out "$out" || status=$?
    cleanup_one
    return "$status"
}

cleanup_now=()
cleanup_one() {
    [ ${#cleanup_now[@]} -eq 3 ] || return 0
    python3 "$bench_py" cleanup --url "${cleanup_now[0]}" --prefix "${cleanup_now[1]}" ||
        echo "bench: WARNING: could not drop the databases ${cleanup_now[1]}*; drop them by hand" >&2
    rm -rf "${cleanup_now[2]}"
    cleanup_now=()
}
cleanup() {
    local rc=$?
    cleanup_one
    rm -rf "$tools"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

status=0
run_on "$BENCH_URL" "$repo/bench/results/latest.md" || status=$?
mysql_url=${BENCH_MYSQL_URL:-${DBTOOL_TEST_MYSQL_URL:-}}
if [ -n "$mysql_url" ]; then
    echo "bench: and on MySQL at $mysql_url (BENCH_MYSQL_URL / DBTOOL_TEST_MYSQL_URL)" >&2
    run_on "$mysql_url" "$repo/bench/results/latest-mysql.md" || status=$?
else
    echo "bench: no MySQL run (set BENCH_MYSQL_URL or DBTOOL_TEST_MYSQL_URL to add one)" >&2
fi
exit "$status"
