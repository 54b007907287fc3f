#!/usr/bin/env bash
# Fuzzes dbtool's SQL splitter and config parser with cargo-fuzz (libFuzzer); see docs/fuzzing.md.
#
#   fuzz/run.sh [-runs=N] [-timeout=S] [TARGET...]
#
# Runs each TARGET (default: split config) for N executions (default 10,000,000) on one core,
# starting from the hand-written seeds in fuzz/corpus/seeds/TARGET/ plus whatever earlier runs
# left in fuzz/corpus/TARGET/ (where new inputs go; not tracked by git). An input that runs longer
# than S seconds (default 5) is a hang. Prints the executions done, the wall time and any
# finding; exits 1 if a target found a crash, a hang or a leak (the input is saved in
# fuzz/artifacts/TARGET/, the fuzzer's log path is printed), 2 on a usage or build error.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler. Works on a stable toolchain:
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags. Environment:
#   FUZZ_SANITIZER  none (default; the code under test is safe Rust) or address
#   FUZZ_NICE       niceness of the build and the runs (default 10)
#   CARGO_BUILD_JOBS  compile jobs (default 1, so the machine's other core stays free)
set -uo pipefail

runs=10000000
timeout=5
targets=()
for arg in "$@"; do
    case "$arg" in
        -runs=*) runs="${arg#-runs=}" ;;
        -timeout=*) timeout="${arg#-timeout=}" ;;
        -h | --help)
            sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        -*)
            echo "run.sh: unknown option $arg (try --help)" >&2
            exit 2
            ;;
        *) targets+=("$arg") ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(split config)
case "$runs" in '' | *[!0-9]*) echo "run.sh: -runs needs a number" >&2; exit 2 ;; esac
case "$timeout" in '' | *[!0-9]*) echo "run.sh: -timeout needs a number" >&2; exit 2 ;; esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz="$root/fuzz"
sanitizer="${FUZZ_SANITIZER:-none}"
niceness="${FUZZ_NICE:-10}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
# The fuzz crate builds into fuzz/target, whatever the main crate uses.
unset CARGO_TARGET_DIR

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi
for t in "${targets[@]}"; do
    if [ ! -f "$fuzz/fuzz_targets/$t.rs" ]; then
        echo "run.sh: no target $t (fuzz/fuzz_targets/$t.rs)" >&2
        exit 2
    fi
done

echo "== building (cargo fuzz build -O -a -s $sanitizer; $(cargo fuzz --version))"
# -O: optimised; -a: debug assertions and overflow checks on, so an overflow is a finding too.
mkdir -p "$fuzz/target/logs"
build_log="$fuzz/target/logs/build.log"
(cd "$root" && RUSTC_BOOTSTRAP=1 nice -n "$niceness" cargo fuzz build -O -a -s "$sanitizer") \
    >"$build_log" 2>&1
build=$?
grep -Ev '^\s+(Compiling|Downloaded|Downloading|Locking|Adding|Updating)' "$build_log"
if [ "$build" -ne 0 ]; then
    echo "run.sh: build failed (log: $build_log)" >&2
    exit 2
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="$fuzz/target/$triple/release"

status=0
summary=()
for t in "${targets[@]}"; do
    corpus="$fuzz/corpus/$t"
    artifacts="$fuzz/artifacts/$t"
    logs="$fuzz/target/logs/$t"
    mkdir -p "$corpus" "$artifacts" "$logs"
    before="$(ls -A "$artifacts" | sort)"
    echo
    echo "== $t: $runs executions, timeout ${timeout}s, one core"
    start=$(date +%s)
    # -jobs=1 -workers=1: one fuzzing process (libFuzzer writes its output to fuzz-0.log in the
    # working directory). The first corpus directory gets the new inputs; the seeds are only read.
    (cd "$logs" && rm -f fuzz-0.log &&
        nice -n "$niceness" "$bin_dir/$t" \
            -runs="$runs" -timeout="$timeout" -jobs=1 -workers=1 \
            -print_final_stats=1 -dict="$fuzz/dict/$t.dict" \
            -artifact_prefix="$artifacts/" \
            "$corpus" "$fuzz/corpus/seeds/$t" >"$logs/driver.log" 2>&1)
    code=$?
    secs=$(($(date +%s) - start))
    log="$logs/fuzz-0.log"
    done_line="$(grep -E '^Done [0-9]+ runs' "$log" 2>/dev/null | tail -1)"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2>/dev/null | tail -1)"
    execs="${execs:-$(echo "$done_line" | awk '{print $2}')}"
    corpus_size="$(ls -A "$corpus" | wc -l)"
    new="$(comm -13 <(echo "$before") <(ls -A "$artifacts" | sort) | sed '/^$/d')"
    rate=$([ "$secs" -gt 0 ] && echo $((${execs:-0} / secs)) || echo "-")
    echo "   executions: ${execs:-unknown}   wall time: ${secs}s   exec/s: $rate   corpus: $corpus_size files"
    if [ "$code" -ne 0 ] || [ -n "$new" ] || [ -z "$done_line" ]; then
        status=1
        echo "   FINDING (fuzzer exit code $code); log: $log"
        grep -E 'panicked at|^SUMMARY|ERROR: libFuzzer|ALARM|Test unit written' "$log" | head -20 | sed 's/^/   | /'
        grep -A12 'panicked at' "$log" | sed -n '2,12p' | sed 's/^/   | /'
        for a in $new; do
            echo "   input: $artifacts/$a  (reproduce: $bin_dir/$t $artifacts/$a)"
        done
        summary+=("$t: FINDING after ${execs:-?} executions")
    else
        summary+=("$t: ${execs} executions, ${secs}s, no finding")
    fi
done

echo
echo "== summary"
printf '   %s\n' "${summary[@]}"
exit $status
