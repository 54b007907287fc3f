#!/usr/bin/env bash
# A fleet of 200 databases (issue 13/14): `migrate:latest --all-targets` at --parallel 1, 4, 8
# and 16 against the cheapest honest reference, a shell loop of single `migrate:latest` runs
# over the same databases, in alternating rounds on the same server. Each database gets four
# migrations (CREATE TABLE with an index); the databases are dropped and created again
# between runs, untimed.
#
#   bench/fleet.sh [ROUNDS]     # default 3; BENCH_URL as for make bench
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
rounds=${1:-3}
url=${BENCH_URL:-mysql://root@127.0.0.1:3306}
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$url" "$rounds" "$work" "$repo/target/release/dbtool" <<'PY'
import os, statistics, subprocess, sys, time
from urllib.parse import urlsplit
url, rounds, work, dbtool = sys.argv[1].rstrip("/"), int(sys.argv[2]), sys.argv[3], sys.argv[4]
u = urlsplit(url)
client = ["mariadb", "--no-defaults", "--protocol=TCP", f"--host={u.hostname}", f"--port={u.port or 3306}",
          f"--user={u.username or 'root'}", "--skip-ssl"]
N = 200
prefix = f"dbtool_fleet_bench_{os.getpid()}_"
names = [f"{prefix}{i:03d}" for i in range(N)]
proj = os.path.join(work, "p")
os.makedirs(os.path.join(proj, "db", "migrations"))
for i in range(1, 5):
    with open(os.path.join(proj, "db", "migrations", f"00{i}_t{i}.up.sql"), "w") as f:
        f.write(f"CREATE TABLE t{i} (id INT PRIMARY KEY, name VARCHAR(50), KEY (name));\n")
with open(os.path.join(proj, "tenants.txt"), "w") as f:
    f.write("\n".join(names) + "\n")
with open(os.path.join(proj, "knexfile.toml"), "w") as f:
    f.write(f'[development]\nurl = "{url}/{prefix}main"\ntargets_file = "tenants.txt"\n')
# The loop's project: the same migrations, no knexfile (the connection comes from DATABASE_URL).
loop_proj = os.path.join(work, "loop")
os.makedirs(loop_proj)
os.symlink(os.path.join(proj, "db"), os.path.join(loop_proj, "db"))
env = {k: v for k, v in os.environ.items() if not k.startswith("DBTOOL_") and k != "DATABASE_URL"}
def reset():
    sql = "".join(f"DROP DATABASE IF EXISTS `{n}`; CREATE DATABASE `{n}`;" for n in names)
    subprocess.run(client + ["-e", sql], check=True)
def loop():
    for n in names:
        # As a deploy script loops: DATABASE_URL per database, the project's files.
        subprocess.run([dbtool, "migrate:latest", "-q"], cwd=loop_proj, env=dict(env, DATABASE_URL=f"{url}/{n}"),
                       check=True, stdout=subprocess.DEVNULL)
def fleet(p):
    subprocess.run([dbtool, "migrate:latest", "--all-targets", "--parallel", str(p), "-q"], cwd=proj,
                   env=env, check=True, stdout=subprocess.DEVNULL)
sides = {"loop": loop}
for p in (1, 4, 8, 16):
    sides[f"parallel {p}"] = (lambda p: lambda: fleet(p))(p)
times = {k: [] for k in sides}
try:
    for r in range(rounds):
        for name, f in sides.items():
            reset()
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
finally:
    subprocess.run(client + ["-e", "".join(f"DROP DATABASE IF EXISTS `{n}`;" for n in names)])
loop_median = statistics.median(times["loop"])
print(f"\n{N} targets, 4 migrations each, median of {rounds} rounds ({url.split('@')[-1]}):")
print("| run | median | against the loop |")
print("|---|---|---|")
for k, v in times.items():
    m = statistics.median(v)
    print(f"| {k} | {m:.2f} s | x{m / loop_median:.2f} |")
PY
