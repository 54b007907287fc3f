#!/usr/bin/env bash
# What the session reset between files costs (issue 16): W1 (300 one-statement DDL migrations
# applied to an empty database) with dbtool as built, paired against a build that skips the
# reset (cargo feature bench-no-reset), in alternating rounds on the same server.
#
#   bench/reset_cost.sh [ROUNDS]     # default 9; BENCH_URL as for make bench
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
rounds=${1:-9}
url=${BENCH_URL:-mysql://root@127.0.0.1:3306}
cargo build --release --quiet
cargo build --release --quiet --features bench-no-reset --target-dir target/no-reset
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$url" "$rounds" "$work" "$repo/target/release/dbtool" "$repo/target/no-reset/release/dbtool" <<'PY'
import os, statistics, subprocess, sys, time
from urllib.parse import urlsplit
url, rounds, work, with_reset, without = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
u = urlsplit(url)
client = ["mariadb", "--no-defaults", "--protocol=TCP", f"--host={u.hostname}", f"--port={u.port or 3306}",
          f"--user={u.username or 'root'}", "--skip-ssl"]
proj = os.path.join(work, "p")
os.makedirs(os.path.join(proj, "db", "migrations"))
N = 300
for i in range(1, N + 1):
    with open(os.path.join(proj, "db", "migrations", f"{i:03d}_create_t{i:03d}.up.sql"), "w") as f:
        f.write(f"CREATE TABLE t{i:03d} (id INT PRIMARY KEY, name VARCHAR(50));\n")
db = f"dbtool_reset_cost_{os.getpid()}"
def run(binary):
    subprocess.run(client + ["-e", f"DROP DATABASE IF EXISTS `{db}`; CREATE DATABASE `{db}`"], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBTOOL_")}
    env["DATABASE_URL"] = url.rstrip("/") + "/" + db
    t = time.perf_counter()
    subprocess.run([binary, "migrate:latest", "-q"], cwd=proj, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t
sides = {"reset": with_reset, "no reset": without}
times = {k: [] for k in sides}
ratios = []
try:
    for r in range(rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        got = {k: run(sides[k]) for k in order}
        for k in got:
            times[k].append(got[k])
        ratios.append(got["reset"] / got["no reset"])
        print(f"round {r + 1}: reset {got['reset'] * 1000:.0f} ms, no reset {got['no reset'] * 1000:.0f} ms, "
              f"ratio x{ratios[-1]:.3f}", file=sys.stderr)
finally:
    subprocess.run(client + ["-e", f"DROP DATABASE IF EXISTS `{db}`"])
diffs = [a - b for a, b in zip(times["reset"], times["no reset"])]
print(f"W1 ({N} migrations, {N - 1} resets), {rounds} paired rounds against {u.hostname}:{u.port}:")
print(f"  with reset {statistics.median(times['reset']) * 1000:.1f} ms, without {statistics.median(times['no reset']) * 1000:.1f} ms (medians)")
print(f"  paired ratio x{statistics.median(ratios):.3f} (min x{min(ratios):.3f}, max x{max(ratios):.3f})")
print(f"  per reset: {statistics.median(diffs) / (N - 1) * 1e6:.0f} µs (median of the paired differences / {N - 1})")
PY
