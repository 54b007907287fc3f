#!/usr/bin/env python3
"""End-to-end benchmark: dbtool against the `mariadb` client running the same SQL.

Called by bench/run.sh (which builds dbtool and checks the server first); see
docs/PERFORMANCE.md for the method. Python 3.11 standard library only.

    bench.py check   --url URL                 # the server answers? prints its version
    bench.py cleanup --url URL --prefix P      # drop every database whose name starts with P
    bench.py run     --url URL --prefix P --dbtool BIN --workdir DIR --out FILE.md

Settings come from the environment (defaults in brackets):
    BENCH_RUNS [7]           paired rounds per workload
    BENCH_WARMUP [1]         untimed, unrecorded warm-up runs of each side before the rounds
    BENCH_1GB [1]            0 skips the 1 GiB seed of W8
    BENCH_200MB [1]          0 skips the 200 MiB seed of W8
    BENCH_VERSION_REPS [10]  W7: executions of each side per round (the round's time is their median)
    BENCH_ONLY [all]         comma list of workloads to run, e.g. W1,W5,W8
    BENCH_STRICT [0]         1: exit 1 when a workload fails or misses its target (default: the
                             table is the result, and the exit status is 0 once it is written)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

MIB = 1024 * 1024

# --------------------------------------------------------------------------------------------
# Connection and the untimed mariadb helper
# --------------------------------------------------------------------------------------------


@dataclass
class Server:
    host: str
    port: int
    user: str
    password: str | None
    scheme: str

    @classmethod
    def from_url(cls, url: str) -> "Server":
        u = urlsplit(url)
        if u.scheme not in ("mysql", "mariadb"):
            raise SystemExit(f"bench: BENCH_URL must be mysql://user[:password]@host[:port], got {url!r}")
        if u.path not in ("", "/"):
            raise SystemExit(f"bench: BENCH_URL must not name a database (the bench makes its own): {url!r}")
        return cls(
            host=u.hostname or "127.0.0.1",
            port=u.port or 3306,
            user=unquote(u.username) if u.username else "root",
            password=unquote(u.password) if u.password is not None else None,
            scheme=u.scheme,
        )

    def db_url(self, db: str) -> str:
        """The URL dbtool gets (DATABASE_URL) for database `db`."""
        from urllib.parse import quote

        cred = quote(self.user, safe="")
        if self.password is not None:
            cred += ":" + quote(self.password, safe="")
        return f"{self.scheme}://{cred}@{self.host}:{self.port}/{db}"

    def client_argv(self, db: str | None = None) -> list[str]:
        """`mariadb` with the same connection, over TCP, no option files, no TLS (as dbtool on
        a loopback host)."""
        argv = [
            "mariadb",
            "--no-defaults",
            "--protocol=TCP",
            f"--host={self.host}",
            f"--port={self.port}",
            f"--user={self.user}",
            "--skip-ssl",
        ]
        if db:
            argv.append(db)
        return argv

    def client_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for k in ("MYSQL_HOST", "MYSQL_TCP_PORT", "MYSQL_PWD", "MYSQL_UNIX_PORT"):
            env.pop(k, None)
        if self.password is not None:
            env["MYSQL_PWD"] = self.password
        return env

    def sql(self, statements: str, db: str | None = None, check: bool = True) -> str:
        """Runs SQL with the mariadb client (untimed: setup, checks, cleanup); returns stdout."""
        p = subprocess.run(
            self.client_argv(db) + ["--batch", "--skip-column-names", "-e", statements],
            env=self.client_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if check and p.returncode != 0:
            raise SetupError(f"mariadb -e {statements[:120]!r} failed (exit {p.returncode}): {p.stderr.strip()}")
        return p.stdout

    def sql_file(self, path: Path, db: str) -> None:
        with open(path, "rb") as f:
            p = subprocess.run(self.client_argv(db), env=self.client_env(), stdin=f, capture_output=True)
        if p.returncode != 0:
            raise SetupError(f"mariadb {db} < {path.name} failed (exit {p.returncode}): {p.stderr.decode(errors='replace').strip()}")

    def fresh_db(self, db: str) -> None:
        # The same statement dbtool's db:create sends.
        self.sql(f"DROP DATABASE IF EXISTS `{db}`; CREATE DATABASE `{db}` CHARACTER SET utf8mb4")

    def drop_prefix(self, prefix: str) -> list[str]:
        if not re.fullmatch(r"dbtool_bench_[A-Za-z0-9_]+", prefix):
            raise SystemExit(f"bench: refusing to drop databases for the prefix {prefix!r}")
        names = self.sql(
            "SELECT schema_name FROM information_schema.schemata "
            f"WHERE LEFT(schema_name, {len(prefix)}) = '{prefix}'"
        ).split()
        for name in names:
            self.sql(f"DROP DATABASE IF EXISTS `{name}`")
        return names


class SetupError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Workload files (deterministic)
# --------------------------------------------------------------------------------------------

N_MIGRATIONS = 300
ROWS_TABLE_DDL = (
    "CREATE TABLE rows_t (id INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, "
    "email VARCHAR(100) NOT NULL, n BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
)
INSERT_HEAD = "INSERT INTO rows_t (id, name, email, n) VALUES "
WORDS = [
    "amber", "basalt", "cedar", "delta", "ember", "fjord", "garnet", "harbor",
    "indigo", "juniper", "kestrel", "lagoon", "meadow", "nectar", "onyx", "prairie",
]


def row(i: int) -> str:
    """Row i (about 92 bytes): fixed by i alone, so every run writes the same file."""
    a = WORDS[i & 15]
    b = WORDS[(i * 7 + 3) & 15]
    return f"({i},'User {i:07d} {a} {b}','user.{i:07d}.{a}@{b}-mail.example.org',{(i * 2654435761) % 1000000000000})"


def write_multirow_seed(path: Path, *, statements: int | None = None, min_bytes: int | None = None,
                        rows_per_statement: int = 1000) -> tuple[int, int]:
    """1,000-row INSERTs, one per line: `statements` of them, or as many as it takes to reach
    `min_bytes`. Streamed. Returns (rows, bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    nrows = 0
    s = 0
    with open(path, "w", encoding="ascii", newline="\n", buffering=4 * MIB) as f:
        while True:
            if statements is not None and s >= statements:
                break
            if min_bytes is not None and size >= min_bytes:
                break
            base = nrows
            line = INSERT_HEAD + ",".join([row(base + k + 1) for k in range(rows_per_statement)]) + ";\n"
            f.write(line)
            size += len(line)
            nrows += rows_per_statement
            s += 1
    return nrows, size


def write_single_row_seed(path: Path, rows: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for i in range(1, rows + 1):
            f.write(INSERT_HEAD + row(i) + ";\n")
    return path.stat().st_size


@dataclass
class Files:
    root: Path
    mig_project: Path = field(init=False)
    all_up: Path = field(init=False)
    all_down: Path = field(init=False)
    w5_project: Path = field(init=False)
    w6_project: Path = field(init=False)
    empty_project: Path = field(init=False)
    wrapped: dict = field(init=False)

    def generate(self) -> dict:
        info = {}
        r = self.root
        # W1-W4: a project with 300 migrations, and the same statements for the client.
        self.mig_project = r / "migrations_project"
        mdir = self.mig_project / "db" / "migrations"
        mdir.mkdir(parents=True)
        (self.mig_project / "db" / "seeds").mkdir(parents=True)
        ups, downs = [], []
        for i in range(1, N_MIGRATIONS + 1):
            up = f"CREATE TABLE t{i:03d} (id INT PRIMARY KEY, name VARCHAR(50));\n"
            down = f"DROP TABLE t{i:03d};\n"
            (mdir / f"{i:03d}_create_t{i:03d}.up.sql").write_text(up)
            (mdir / f"{i:03d}_create_t{i:03d}.down.sql").write_text(down)
            ups.append(up)
            downs.append(down)
        self.all_up = r / "all_up.sql"
        self.all_up.write_text("".join(ups))
        self.all_down = r / "all_down.sql"
        self.all_down.write_text("".join(reversed(downs)))
        # W5: 200 x 1,000-row INSERTs.
        self.w5_project = r / "seed_multirow_project"
        (self.w5_project / "db" / "migrations").mkdir(parents=True)
        rows, size = write_multirow_seed(self.w5_project / "db" / "seeds" / "01_rows.sql", statements=200)
        info["W5"] = {"rows": rows, "bytes": size}
        # W6: 20,000 single-row INSERTs.
        self.w6_project = r / "seed_single_project"
        (self.w6_project / "db" / "migrations").mkdir(parents=True)
        size = write_single_row_seed(self.w6_project / "db" / "seeds" / "01_rows.sql", 20000)
        info["W6"] = {"rows": 20000, "bytes": size}
        # The same seed files inside one transaction, for the client's second reference.
        self.wrapped = {}
        for w, proj in (("W5", self.w5_project), ("W6", self.w6_project)):
            dst = r / f"{w}_in_one_transaction.sql"
            with open(dst, "wb") as out:
                out.write(b"START TRANSACTION;\n")
                with open(proj / "db" / "seeds" / "01_rows.sql", "rb") as src:
                    shutil.copyfileobj(src, out)
                out.write(b"COMMIT;\n")
            self.wrapped[w] = dst
        # W7: no files needed, but dbtool runs in an empty directory like everything else.
        self.empty_project = r / "empty_project"
        self.empty_project.mkdir()
        return info

    def big_project(self, name: str, min_bytes: int) -> tuple[Path, int, int, float]:
        proj = self.root / name
        (proj / "db" / "migrations").mkdir(parents=True)
        t0 = time.perf_counter()
        rows, size = write_multirow_seed(proj / "db" / "seeds" / "01_rows.sql", min_bytes=min_bytes)
        return proj, rows, size, time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# One timed execution
# --------------------------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float        # seconds: CLOCK_MONOTONIC from fork() to wait4() in bench/spawn.c
    cpu: float         # seconds: user + sys of the command's process (wait4)
    maxrss_kib: int    # the command's peak RSS (ru_maxrss from wait4, KiB)
    rc: int
    stderr: str
    outer_wall: float = 0.0   # seconds: perf_counter around the whole spawn helper, from Python
    load1: float | None = None  # the 1-minute load average when the run started (raw JSON only)
    verify_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.verify_error is None


def setup_failure(msg: str) -> Sample:
    return Sample(0.0, 0.0, 0, -1, f"(untimed setup) {msg}", verify_error="setup failed")


class Spawner:
    """Runs one command through the spawn helper (bench/spawn.c, compiled by run.sh)."""

    def __init__(self, helper: str, scratch: Path):
        self.helper = helper
        self.scratch = scratch
        self.result = scratch / "result"
        self.stdout = scratch / "stdout"
        self.stderr = scratch / "stderr"

    def run(self, argv: list[str], *, cwd: Path, env: dict, stdin_path: Path | None) -> Sample:
        self.result.unlink(missing_ok=True)
        try:
            load1 = float(Path("/proc/loadavg").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            load1 = None
        fin = open(stdin_path, "rb") if stdin_path else open(os.devnull, "rb")
        try:
            with open(self.stdout, "wb") as fo, open(self.stderr, "wb") as fe:
                t0 = time.perf_counter()
                p = subprocess.run([self.helper, str(self.result), *argv], cwd=cwd, env=env,
                                   stdin=fin, stdout=fo, stderr=fe)
                t1 = time.perf_counter()
        finally:
            fin.close()
        stderr = self.stderr.read_bytes().decode(errors="replace")
        if p.returncode != 0 or not self.result.exists():
            raise SystemExit(f"bench: the spawn helper failed (exit {p.returncode}) on {argv}: {stderr}")
        wall_ns, rc, ut, st, rss = (int(x) for x in self.result.read_text().split())
        return Sample(wall=wall_ns / 1e9, cpu=(ut + st) / 1e6, maxrss_kib=rss, rc=rc, stderr=stderr,
                      outer_wall=t1 - t0, load1=load1)

    def floor_kib(self) -> int:
        """The peak RSS reported for /bin/true: what the measurement cannot see below."""
        return self.run(["true"], cwd=self.scratch, env=dict(os.environ), stdin_path=None).maxrss_kib


# --------------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------------

SIDES = ("dbtool", "mariadb")
# The seeds' second reference: the client running the same file inside one transaction
# (`START TRANSACTION; … COMMIT;`), what dbtool does; their targets are set against it.
TX = "mariadb_tx"


@dataclass
class Workload:
    key: str
    title: str
    target_text: str
    target: float | None
    kind: str  # "migrate", "seed" or "other": which W8 limit its dbtool RSS is judged against
    dbtool_cmd: str
    mariadb_cmd: str
    # The target is judged against the client in one transaction (TX), not in autocommit.
    tx: bool = False

    def sides(self) -> tuple[str, ...]:
        return (*SIDES, TX) if self.tx else SIDES


class Bench:
    def __init__(self, args):
        self.server = Server.from_url(args.url)
        self.prefix = args.prefix
        self.dbtool = str(Path(args.dbtool).resolve())
        self.work = Path(args.workdir)
        self.scratch = self.work / "scratch"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.out = Path(args.out)
        self.runs = int(os.environ.get("BENCH_RUNS", "7"))
        self.warmup = int(os.environ.get("BENCH_WARMUP", "1"))
        self.big1g = os.environ.get("BENCH_1GB", "1") != "0"
        self.big200 = os.environ.get("BENCH_200MB", "1") != "0"
        self.version_reps = int(os.environ.get("BENCH_VERSION_REPS", "10"))
        only = os.environ.get("BENCH_ONLY", "").strip()
        self.only = {w.strip().upper() for w in only.split(",") if w.strip()} or None
        if self.runs < 1:
            raise SystemExit("bench: BENCH_RUNS must be >= 1")
        self.db = {"dbtool": f"{self.prefix}_dbtool", "mariadb": f"{self.prefix}_mariadb",
                   TX: f"{self.prefix}_mariadb_tx"}
        # What each side's database holds now: None (unknown), "applied" (dbtool applied the 300
        # migrations), "created" (the client created the 300 tables), "seed" (rows_t exists).
        self.state: dict[str, str | None] = {"dbtool": None, "mariadb": None, TX: None}
        self.files = Files(self.work / "files")
        self.spawner = Spawner(args.spawn, self.scratch)
        self.results: dict[str, dict] = {}
        self.big_results: list[dict] = []

    # -- environment of each side -------------------------------------------------------------

    def dbtool_env(self, db: str) -> dict:
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("DBTOOL_") or k in ("RUST_LOG", "NO_COLOR", "DATABASE_URL"):
                env.pop(k)
        env["DATABASE_URL"] = self.server.db_url(db)
        return env

    def dbtool_untimed(self, args: list[str], cwd: Path, db: str) -> None:
        p = subprocess.run([self.dbtool, *args], cwd=cwd, env=self.dbtool_env(db),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if p.returncode != 0:
            raise SetupError(f"setup `dbtool {' '.join(args)}` failed (exit {p.returncode}): {p.stderr.strip()}")

    def count_tables(self, db: str) -> int:
        out = self.server.sql(
            "SELECT COUNT(*) FROM information_schema.tables "
            f"WHERE table_schema = '{db}' AND table_name REGEXP '^t[0-9]{{3}}$'"
        )
        return int(out.strip())

    def count_rows(self, db: str) -> int:
        return int(self.server.sql("SELECT COUNT(*) FROM rows_t", db).strip())

    # -- the workloads: prepare (untimed), command, verify (untimed) -----------------------

    def workloads(self) -> list[Workload]:
        return [
            Workload("W1", "apply 300 one-statement DDL migrations to an empty database", "<= x1.15", 1.15, "migrate",
                     "`migrate:latest` on a fresh database", "`mariadb DB < all_up.sql` (the 300 CREATE TABLE) on a fresh database"),
            Workload("W2", "no-op migrate:latest with 300 applied", "<= x1.10", 1.10, "migrate",
                     "`migrate:latest` (nothing pending)", "`mariadb DB -e 'SELECT * FROM dbtool_migrations'`"),
            Workload("W3", "migrate:status with 300 applied", "<= x0.90", 0.90, "migrate",
                     "`migrate:status`", "`mariadb DB -e 'SELECT * FROM dbtool_migrations'`"),
            Workload("W4", "rollback all 300", "<= x1.10", 1.10, "migrate",
                     "`migrate:rollback --all`", "`mariadb DB < all_down.sql` (the 300 DROP TABLE, newest first)"),
            Workload("W5", "seed: 200,000 rows as 200 x 1,000-row INSERTs (~19 MB)", "<= x0.90 of the client in one transaction", 0.90, "seed",
                     "`seed:run` (db/seeds/01_rows.sql)", "`mariadb DB < 01_rows.sql`", tx=True),
            Workload("W6", "seed: 20,000 single-row INSERTs", "<= x0.50 of the client in one transaction", 0.50, "seed",
                     "`seed:run` (one transaction)", "`mariadb DB < 01_rows.sql` (autocommit: one commit per row)", tx=True),
            Workload("W7", "--version", "<= x0.30", 0.30, "other",
                     "`dbtool --version`", "`mariadb --version`"),
        ]

    # Workloads run in groups; in each round, every workload of the group runs one A/B pair.
    # W1-W4 form one group, so one round is one cycle on fresh databases: W1 applies the 300
    # migrations (dbtool) / creates the 300 tables (client); W2 and W3 then read the state
    # dbtool's W1 left; W4 rolls back / drops what each side's W1 made. When a step before
    # failed or did not run (BENCH_ONLY), prepare() makes the state untimed instead.
    GROUPS = [("W1", "W2", "W3", "W4"), ("W5",), ("W6",), ("W7",)]
    # Workloads with an untimed warm-up run of each side before the first timed pair. The
    # others take seconds per run, and the caches they use are warm from the file generation
    # and the setup.
    WARM = ("W2", "W3", "W5", "W7")

    def ensure_applied(self) -> None:
        """dbtool's database: the 300 migrations applied by dbtool (W2, W3 and W4)."""
        db = self.db["dbtool"]
        if self.state["dbtool"] != "applied":
            self.state["dbtool"] = None
            self.server.fresh_db(db)
            self.dbtool_untimed(["migrate:latest"], self.files.mig_project, db)
            self.state["dbtool"] = "applied"

    def prepare(self, w: str, side: str) -> None:
        db = self.db[side]
        f = self.files
        s = self.server
        if w == "W1":
            self.state[side] = None
            s.fresh_db(db)
        elif w in ("W2", "W3"):
            # Both sides read dbtool's database: dbtool_migrations exists only there.
            self.ensure_applied()
        elif w == "W4":
            if side == "dbtool":
                self.ensure_applied()
            elif self.state["mariadb"] != "created":
                self.state["mariadb"] = None
                s.fresh_db(db)
                s.sql_file(f.all_up, db)
                self.state["mariadb"] = "created"
        elif w in ("W5", "W6"):
            if self.state[side] != "seed":
                self.state[side] = None
                s.fresh_db(db)
                s.sql(ROWS_TABLE_DDL, db)
                if side == "dbtool":
                    # dbtool creates its ledger tables on a project's first seed:run: a
                    # one-time cost, made here untimed (then rows_t is emptied below).
                    proj = f.w5_project if w == "W5" else f.w6_project
                    self.dbtool_untimed(["seed:run"], proj, db)
                self.state[side] = "seed"
            s.sql("TRUNCATE TABLE rows_t", db)

    def command(self, w: str, side: str) -> tuple[list[str], Path, dict, Path | None]:
        f = self.files
        if side == "dbtool":
            db = self.db["dbtool"]
            env = self.dbtool_env(db)
            sub = {
                "W1": ["migrate:latest"], "W2": ["migrate:latest"], "W3": ["migrate:status"],
                "W4": ["migrate:rollback", "--all"], "W5": ["seed:run"], "W6": ["seed:run"],
                "W7": ["--version"],
            }[w]
            cwd = {"W5": f.w5_project, "W6": f.w6_project, "W7": f.empty_project}.get(w, f.mig_project)
            return [self.dbtool, *sub], cwd, env, None
        env = self.server.client_env()
        if w == "W7":
            return ["mariadb", "--version"], f.empty_project, env, None
        if w in ("W2", "W3"):
            argv = self.server.client_argv(self.db["dbtool"])
            return argv + ["-e", "SELECT * FROM dbtool_migrations"], f.mig_project, env, None
        if side == TX:
            return self.server.client_argv(self.db[TX]), f.root, env, f.wrapped[w]
        stdin = {
            "W1": f.all_up, "W4": f.all_down,
            "W5": f.w5_project / "db" / "seeds" / "01_rows.sql",
            "W6": f.w6_project / "db" / "seeds" / "01_rows.sql",
        }[w]
        return self.server.client_argv(self.db["mariadb"]), f.root, env, stdin

    def verify(self, w: str, side: str, sample: Sample) -> str | None:
        """Checks (untimed) that the run did its work, and records the state it left."""
        db = self.db[side]
        if w in ("W1", "W4") or (w in ("W2", "W3") and side == "dbtool"):
            # Unknown until checked; W4 consumes the state whatever happens.
            self.state[side] = None
        if sample.rc != 0:
            return None
        if w == "W1":
            n = self.count_tables(db)
            if n != N_MIGRATIONS:
                return f"{n} of the {N_MIGRATIONS} tables exist afterwards"
            self.state[side] = "applied" if side == "dbtool" else "created"
        elif w in ("W2", "W3") and side == "dbtool":
            n = self.count_tables(db)
            if n != N_MIGRATIONS:
                return f"{n} tables exist afterwards, not {N_MIGRATIONS}"
            if w == "W3" and not self.spawner.stdout.read_bytes().strip():
                return "printed nothing on stdout"
            self.state[side] = "applied"
        elif w == "W4":
            n = self.count_tables(db)
            if n != 0:
                return f"{n} tables are left afterwards"
        elif w in ("W5", "W6"):
            want = 200000 if w == "W5" else 20000
            n = self.count_rows(db)
            if n != want:
                return f"rows_t holds {n} rows afterwards, not {want}"
        return None

    # -- running ------------------------------------------------------------------------------

    def one(self, w: str, side: str) -> Sample:
        try:
            self.prepare(w, side)
        except SetupError as e:
            return setup_failure(str(e))
        argv, cwd, env, stdin = self.command(w, side)
        if w == "W7":
            # A few milliseconds each: the round's figure is the median of several executions.
            reps = [self.spawner.run(argv, cwd=cwd, env=env, stdin_path=stdin) for _ in range(self.version_reps)]
            bad = [r for r in reps if r.rc != 0]
            if bad:
                return bad[0]
            return Sample(
                wall=statistics.median(r.wall for r in reps),
                cpu=statistics.median(r.cpu for r in reps),
                maxrss_kib=max(r.maxrss_kib for r in reps),
                rc=0, stderr="",
                outer_wall=statistics.median(r.outer_wall for r in reps),
            )
        s = self.spawner.run(argv, cwd=cwd, env=env, stdin_path=stdin)
        try:
            s.verify_error = self.verify(w, side, s)
        except SetupError as e:
            s.verify_error = f"the check afterwards failed: {e}"
        return s

    def run_group(self, wls: list[Workload]) -> None:
        for wl in wls:
            self.results[wl.key] = {"workload": wl, "samples": {side: [] for side in wl.sides()},
                                    "warmup": {side: [] for side in wl.sides()}, "ratios": [],
                                    "ratios_tx": []}
        log("group: " + ", ".join(f"{wl.key} {wl.title}" for wl in wls))
        for r in range(self.runs):
            for wl in wls:
                order = wl.sides() if r % 2 == 0 else tuple(reversed(wl.sides()))
                w = wl.key
                res = self.results[w]
                if r == 0 and w in self.WARM:
                    for _ in range(self.warmup):
                        for side in order:
                            s = self.one(w, side)
                            res["warmup"][side].append(s)
                            log(f"  {w} warm-up {side:8s} {fmt_s(s.wall):>9s} exit {s.rc}"
                                + ("" if s.ok else f"  {fail_text(s)}"))
                got = {}
                for side in order:
                    got[side] = self.one(w, side)
                    res["samples"][side].append(got[side])
                d, m = got["dbtool"], got["mariadb"]
                ratio = d.wall / m.wall if d.ok and m.ok and m.wall > 0 else None
                if ratio is not None:
                    res["ratios"].append(ratio)
                tx_text = ""
                if wl.tx:
                    t = got[TX]
                    rt = d.wall / t.wall if d.ok and t.ok and t.wall > 0 else None
                    if rt is not None:
                        res["ratios_tx"].append(rt)
                    tx_text = (f", mariadb in one transaction {fmt_s(t.wall)} exit {t.rc}, ratio "
                               f"{'-' if rt is None else f'x{rt:.3f}'}" + ("" if t.ok else f"  tx: {fail_text(t)}"))
                log(f"  {w} round {r + 1}/{self.runs} ({order[0]} first): dbtool {fmt_s(d.wall)} exit {d.rc}, "
                    f"mariadb {fmt_s(m.wall)} exit {m.rc}, ratio {'-' if ratio is None else f'x{ratio:.3f}'}"
                    + tx_text
                    + ("" if d.ok else f"  dbtool: {fail_text(d)}") + ("" if m.ok else f"  mariadb: {fail_text(m)}"))

    def run_big(self, label: str, min_bytes: int) -> None:
        log(f"W8: generating the {label} seed")
        proj, rows, size, gen_s = self.files.big_project(f"seed_{label.replace(' ', '')}_project", min_bytes)
        db = f"{self.prefix}_big"
        res = {"label": label, "rows": rows, "bytes": size, "generate_s": gen_s, "sample": None}
        try:
            self.server.fresh_db(db)
            self.server.sql(ROWS_TABLE_DDL, db)
            log(f"W8: dbtool seed:run, {label} ({size / MIB:.0f} MiB, {rows:,} rows, generated in {gen_s:.1f} s)")
            s = self.spawner.run([self.dbtool, "seed:run"], cwd=proj, env=self.dbtool_env(db), stdin_path=None)
            if s.rc == 0:
                n = self.count_rows(db)
                if n != rows:
                    s.verify_error = f"rows_t holds {n} rows afterwards, not {rows}"
            res["sample"] = s
            log(f"  wall {fmt_s(s.wall)}, cpu {fmt_s(s.cpu)}, peak RSS {fmt_mib(s.maxrss_kib)}, exit {s.rc}"
                + ("" if s.ok else f"  {fail_text(s)}"))
        except SetupError as e:
            res["sample"] = setup_failure(str(e))
        finally:
            # Free the disk at once (the 1 GiB table takes well over 1 GB) and the file.
            try:
                self.server.sql(f"DROP DATABASE IF EXISTS `{db}`")
            except SetupError as e:
                log(f"  warning: {e}")
            shutil.rmtree(proj, ignore_errors=True)
        self.big_results.append(res)

    def main(self) -> int:
        t_start = time.perf_counter()
        meta = self.metadata()
        log(f"bench: generating the workloads in {self.files.root}")
        t0 = time.perf_counter()
        info = self.files.generate()
        log(f"bench: generated in {time.perf_counter() - t0:.1f} s (W5 seed {info['W5']['bytes']:,} bytes, "
            f"W6 seed {info['W6']['bytes']:,} bytes)")
        meta["files"] = info
        meta["rss_floor_kib"] = self.spawner.floor_kib()
        by_key = {wl.key: wl for wl in self.workloads()}
        for group in self.GROUPS:
            wls = [by_key[k] for k in group if not self.only or k in self.only]
            if wls:
                self.run_group(wls)
        if not self.only or "W8" in self.only:
            if self.big200:
                self.run_big("200 MiB", 200 * MIB)
            if self.big1g:
                self.run_big("1 GiB", 1024 * MIB)
        meta["total_s"] = time.perf_counter() - t_start
        meta["loadavg_end"] = loadavg()
        md = self.report(meta)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(md)
        self.out.with_suffix(".json").write_text(json.dumps(self.raw(meta), indent=1, default=str) + "\n")
        print(md)
        log(f"bench: written {self.out} and {self.out.with_suffix('.json')} (total {meta['total_s']:.0f} s)")
        if os.environ.get("BENCH_STRICT", "0") != "0" and ("**FAIL**" in md or "**ERROR**" in md or "MISS" in md):
            log("bench: BENCH_STRICT is set and a workload failed or missed its target")
            return 1
        return 0

    # -- reporting ----------------------------------------------------------------------------

    def metadata(self) -> dict:
        def cmd(argv, cwd=None):
            try:
                return subprocess.run(argv, capture_output=True, text=True, cwd=cwd).stdout.strip()
            except OSError:
                return "?"

        repo = Path(__file__).resolve().parent.parent
        cpu = "?"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        return {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": cmd(["nproc"]),
            "uname_r": platform.release(),
            "cpu": cpu,
            "server": self.server.sql("SELECT VERSION()").strip(),
            "server_settings": ", ".join(
                f"{k.lstrip('@')}={v}" for k, v in zip(
                    ("innodb_flush_log_at_trx_commit", "innodb_buffer_pool_size", "log_bin", "sync_binlog"),
                    self.server.sql("SELECT @@innodb_flush_log_at_trx_commit, @@innodb_buffer_pool_size, "
                                    "@@log_bin, @@sync_binlog").split())),
            "client": cmd(["mariadb", "--version"]),
            "dbtool": cmd([self.dbtool, "--version"]),
            "dbtool_bin": self.dbtool,
            "git": cmd(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=repo),
            "runs": self.runs,
            "warmup": self.warmup,
            "version_reps": self.version_reps,
            "loadavg_start": loadavg(),
            "url": f"{self.server.host}:{self.server.port} (user {self.server.user}, TCP)",
        }

    def report(self, meta: dict) -> str:
        L = []
        L.append("# dbtool vs the mariadb client: end-to-end benchmark")
        L.append("")
        L.append(f"- date: {meta['date']}")
        L.append(f"- machine: nproc {meta['nproc']}, kernel {meta['uname_r']}, {meta['cpu']}; "
                 f"load average {meta['loadavg_start']} at the start, {meta['loadavg_end']} at the end")
        L.append(f"- server: {meta['server']} at {meta['url']}; {meta['server_settings']}")
        L.append(f"- client: {meta['client']}")
        L.append(f"- dbtool: {meta['dbtool']}, built from `{meta['git']}`")
        L.append(f"- method: {meta['runs']} paired rounds per workload, alternating which side goes first "
                 f"(dbtool first in odd rounds); untimed setup before each run (W1-W4 run as one cycle per round "
                 f"on fresh databases, W5/W6 empty rows_t before each run); {meta['warmup']} untimed warm-up "
                 f"run(s) of each side for W2, W3, W5, W7; W7's figure per round is the median of "
                 f"{meta['version_reps']} executions of each side; see docs/PERFORMANCE.md")
        L.append("- ratio = dbtool wall time / mariadb wall time in the same round; the result is the median "
                 "of these paired ratios (lower is better for dbtool). Wall = fork to exit of the command; "
                 "CPU = user+sys of the command's own process (median; the server's CPU is not in it); "
                 "peak RSS = the command's ru_maxrss, the largest over the rounds "
                 f"(measurement floor: {fmt_mib(meta['rss_floor_kib'])}, what /bin/true shows)")
        L.append("- seeds (W5, W6): the client also runs the same file inside one transaction "
                 "(`START TRANSACTION; … COMMIT;`, which is what dbtool does), a third side of each round; "
                 "their targets are judged against that column. The autocommit column is what users "
                 "compare with")
        L.append(f"- files: W5 seed {meta['files']['W5']['bytes']:,} bytes, W6 seed {meta['files']['W6']['bytes']:,} bytes")
        L.append(f"- total bench time: {meta['total_s']:.0f} s")
        L.append("")
        L.append("| workload | dbtool wall (median) | mariadb wall (median) | ratio (median of paired) | ratio min / max "
                 "| mariadb in one transaction (seeds) | ratio to it (median of paired) "
                 "| dbtool CPU | mariadb CPU | dbtool peak RSS | mariadb peak RSS | dbtool must reach | result |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
        failures = []
        for w, r in self.results.items():
            wl: Workload = r["workload"]
            S = r["samples"]
            ratios = r["ratios"]
            cells = [f"{w} {wl.title}"]
            for side in SIDES:
                ok = [s for s in S[side] if s.ok]
                cells.append(fmt_s(statistics.median(s.wall for s in ok)) if ok else "-")
            cells.append(f"x{statistics.median(ratios):.3f}" if ratios else "-")
            cells.append(f"x{min(ratios):.3f} / x{max(ratios):.3f}" if ratios else "-")
            tx_ratios = r["ratios_tx"]
            if wl.tx:
                ok = [s for s in S[TX] if s.ok]
                cells.append(fmt_s(statistics.median(s.wall for s in ok)) if ok else "-")
                cells.append(f"x{statistics.median(tx_ratios):.3f} (x{min(tx_ratios):.3f} / x{max(tx_ratios):.3f})"
                             if tx_ratios else "-")
            else:
                cells += ["", ""]
            for side in SIDES:
                ok = [s for s in S[side] if s.ok]
                cells.append(fmt_s(statistics.median(s.cpu for s in ok)) if ok else "-")
            for side in SIDES:
                ok = [s for s in S[side] if s.ok]
                cells.append(fmt_mib(max(s.maxrss_kib for s in ok)) if ok else "-")
            cells.append(wl.target_text)
            bad = {side: [(i, s) for i, s in enumerate(S[side]) if not s.ok] for side in wl.sides()}
            bad_warm = {side: [s for s in r["warmup"][side] if not s.ok] for side in wl.sides()}
            judged = tx_ratios if wl.tx else ratios
            if bad["dbtool"]:
                i, s = bad["dbtool"][0]
                cells.append(f"**FAIL** in {len(bad['dbtool'])}/{len(S['dbtool'])} rounds: {fail_text(s)}")
            elif any(bad[side] for side in wl.sides() if side != "dbtool"):
                side = next(side for side in wl.sides() if side != "dbtool" and bad[side])
                i, s = bad[side][0]
                cells.append(f"**ERROR** ({side} side) in {len(bad[side])}/{len(S[side])} rounds: {fail_text(s)}")
            elif not judged:
                cells.append("-")
            else:
                cells.append("PASS" if statistics.median(judged) <= wl.target else "MISS")
            L.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
            for side in wl.sides():
                for i, s in bad[side]:
                    failures.append((w, side, f"round {i + 1}", s))
                for s in bad_warm[side]:
                    failures.append((w, side, "warm-up", s))
        # W8: memory.
        if self.results or self.big_results:
            L.append("")
            L.append("W8 peak memory of dbtool (ru_maxrss of the dbtool process; target: <= 8 MiB for migrate, "
                     "<= 16 MiB for any seed, the 1 GiB seed included):")
            L.append("")
            L.append("| W8 run | dbtool peak RSS | dbtool wall | dbtool CPU | limit | result |")
            L.append("| --- | ---: | ---: | ---: | --- | --- |")
            groups = {"migrate": [], "seed": []}
            failed_w8 = []
            group_keys = {"migrate": [], "seed": []}
            for w, r in self.results.items():
                wl = r["workload"]
                ok = [s for s in r["samples"]["dbtool"] if s.ok]
                # Every run that started counts, a failed one too (setup failures never started).
                rss = max((s.maxrss_kib for s in r["samples"]["dbtool"] if s.rc != -1), default=0)
                limit = {"migrate": 8 * 1024, "seed": 16 * 1024}.get(wl.kind)
                if limit:
                    groups[wl.kind].append(rss)
                    group_keys[wl.kind].append(w)
                res = "-" if limit is None else ("PASS" if rss <= limit else "MISS")
                if len(ok) < len(r["samples"]["dbtool"]):
                    res = "**FAIL** (dbtool failed, see above)"
                    failed_w8.append(w)
                lim_text = {"migrate": "<= 8 MiB", "seed": "<= 16 MiB"}.get(wl.kind, "(not judged)")
                L.append(f"| {w} {wl.title} | {fmt_mib(rss)} | "
                         f"{fmt_s(statistics.median(s.wall for s in ok)) if ok else '-'} | "
                         f"{fmt_s(statistics.median(s.cpu for s in ok)) if ok else '-'} | {lim_text} | {res} |")
            for b in self.big_results:
                s: Sample = b["sample"]
                desc = f"seed {b['label']} ({b['bytes'] / MIB:.0f} MiB, {b['rows']:,} rows, 1,000-row INSERTs), once"
                if s.ok:
                    res = "PASS" if s.maxrss_kib <= 16 * 1024 else "MISS"
                else:
                    res = f"**FAIL**: {fail_text(s)}"
                    failures.append(("W8", "dbtool", f"seed {b['label']}", s))
                    failed_w8.append(f"seed {b['label']}")
                groups["seed"].append(s.maxrss_kib)
                group_keys["seed"].append(b["label"])
                L.append(f"| {desc} | {fmt_mib(s.maxrss_kib)} | {fmt_s(s.wall)} | {fmt_s(s.cpu)} | <= 16 MiB | {res} |")
            verdict = []
            if groups["migrate"]:
                m = max(groups["migrate"])
                verdict.append(f"migrate ({', '.join(group_keys['migrate'])}) max {fmt_mib(m)}: {'PASS' if m <= 8 * 1024 else 'MISS'}")
            if groups["seed"]:
                m = max(groups["seed"])
                one_gib = any(b["label"] == "1 GiB" for b in self.big_results)
                verdict.append(f"seeds ({', '.join(group_keys['seed'])}) max {fmt_mib(m)}: {'PASS' if m <= 16 * 1024 else 'MISS'}"
                               + ("" if one_gib else " (1 GiB seed not run: BENCH_1GB=0)"))
            if failed_w8:
                verdict.append(f"**FAIL**: dbtool failed in {', '.join(failed_w8)}")
            L.append(f"| **W8 peak memory** | | | | <= 8 MiB migrate, <= 16 MiB seeds | {'; '.join(verdict)} |")
        if failures:
            L.append("")
            L.append("Failures (exit code and the end of stderr):")
            L.append("")
            # Runs that failed the same way are listed once.
            grouped: dict[tuple, list[str]] = {}
            for w, side, where, s in failures:
                key = (w, side, s.rc, s.verify_error, s.stderr.strip()[-1500:])
                grouped.setdefault(key, []).append(where)
            for (w, side, rc, verr, tail), wheres in grouped.items():
                L.append(f"- {w} {side} ({', '.join(wheres)}): exit {rc}" + (f"; {verr}" if verr else ""))
                if tail:
                    L.append("")
                    L.append("  ```")
                    L.extend("  " + line for line in tail.splitlines())
                    L.append("  ```")
        L.append("")
        return "\n".join(L)

    def raw(self, meta: dict) -> dict:
        out = {"meta": meta, "workloads": {}, "big_seeds": []}
        for w, r in self.results.items():
            out["workloads"][w] = {
                "title": r["workload"].title,
                "target": r["workload"].target,
                "ratios": r["ratios"],
                "ratios_in_one_transaction": r["ratios_tx"],
                **{side: [vars(s) | {"stderr": s.stderr[-500:]} for s in r["samples"][side]]
                   for side in r["workload"].sides()},
            }
        for b in self.big_results:
            s = b["sample"]
            out["big_seeds"].append({k: v for k, v in b.items() if k != "sample"} | {"sample": vars(s) | {"stderr": s.stderr[-500:]}})
        return out


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def fmt_s(sec: float) -> str:
    if sec >= 10:
        return f"{sec:.1f} s"
    if sec >= 1:
        return f"{sec:.2f} s"
    return f"{sec * 1000:.1f} ms"


def fmt_mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def fail_text(s: Sample) -> str:
    lines = [l.strip() for l in s.stderr.strip().splitlines() if l.strip()]
    msg = f"exit {s.rc}"
    if s.verify_error:
        msg += f", {s.verify_error}"
    if lines:
        # The first error-looking line, else the last line.
        pick = next((l for l in lines if "error" in l.lower()), lines[-1])
        msg += f": {pick[:160]}"
    return msg.replace("`", "'")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["check", "cleanup", "run"])
    ap.add_argument("--url", default=os.environ.get("BENCH_URL", "mysql://root@127.0.0.1:3306"))
    ap.add_argument("--prefix")
    ap.add_argument("--dbtool")
    ap.add_argument("--workdir")
    ap.add_argument("--out")
    ap.add_argument("--spawn", help="the compiled bench/spawn.c")
    args = ap.parse_args()
    server = Server.from_url(args.url)
    if args.action == "check":
        try:
            print(server.sql("SELECT VERSION()").strip())
        except (SetupError, OSError) as e:
            log(f"bench: the server at {server.host}:{server.port} does not answer: {e}")
            return 1
        return 0
    if not args.prefix:
        ap.error("--prefix is needed")
    if args.action == "cleanup":
        dropped = server.drop_prefix(args.prefix)
        if dropped:
            log(f"bench: dropped {', '.join(dropped)}")
        return 0
    for a in ("dbtool", "workdir", "out", "spawn"):
        if not getattr(args, a):
            ap.error(f"--{a} is needed")
    bench = Bench(args)
    try:
        return bench.main()
    finally:
        try:
            server.drop_prefix(args.prefix)
        except Exception as e:  # the shell trap tries again
            log(f"bench: cleanup failed: {e}")


if __name__ == "__main__":
    sys.exit(main())
