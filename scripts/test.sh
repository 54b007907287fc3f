#!/usr/bin/env bash
# Every test dbtool has, on both servers: `make test` runs this.
#
#   1. builds the tests once;
#   2. runs the whole suite (unit, integration, splitter differential, doc tests) against
#      MariaDB at DBTOOL_TEST_URL, and at the same time the server-facing suites (integration
#      and splitter differential, with MySQL's own `mysql` client) against MySQL at
#      DBTOOL_TEST_MYSQL_URL;
#   3. prints both results with their test counts and times; exits non-zero if either failed.
#
# DBTOOL_TEST_MYSQL_URL unset: the MySQL server of scripts/mysql-test-server.sh is started
# (its Debian root is built the first time, about 3 minutes). DBTOOL_TEST_MYSQL=0 runs MariaDB
# only, for a quick local run; it is refused under CI, where both servers always run.
#
# Tests that only make sense on one server say so in their name (`mariadb_only_…`,
# `mysql_only_…`) and are skipped on the other. Extra arguments go to every `cargo test` run
# after `--` (a test name filter, `--nocapture`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '== %s ==\n' "$*"; }
die() {
    printf 'test: error: %s\n' "$*" >&2
    exit 1
}

export DBTOOL_TEST_URL="${DBTOOL_TEST_URL:-mysql://root@127.0.0.1:3306}"
mysql_url="${DBTOOL_TEST_MYSQL_URL:-}"
if [ -z "$mysql_url" ]; then
    if [ "${DBTOOL_TEST_MYSQL:-1}" = 0 ]; then
        if [ -n "${CI:-}" ]; then
            die "DBTOOL_TEST_MYSQL=0 under CI: the MySQL suite is never skipped in CI"
        fi
        echo "DBTOOL_TEST_MYSQL=0: MariaDB only (CI always runs both servers)"
    else
        mysql_url=$(scripts/mysql-test-server.sh start) ||
            die "could not start the MySQL test server (scripts/mysql-test-server.sh start); \
set DBTOOL_TEST_MYSQL_URL to a MySQL server, or DBTOOL_TEST_MYSQL=0 to skip it locally"
    fi
fi
client=""
if [ -n "$mysql_url" ]; then
    # MySQL's own client for the splitter's differential test, when the script's root has it
    # (else the test finds a client on PATH).
    client=$(scripts/mysql-test-server.sh client-command 2>/dev/null) || client=""
fi

# Tools some tests drive, installed when missing (they fail, never skip, without them):
# Percona's pt-online-schema-change (tests/online.rs), Alembic with PyMySQL (the Alembic
# import tests), Knex, dbmate and sqlx-cli (tests/it/import_real.rs), the versions docs/ names.
if ! command -v pt-online-schema-change >/dev/null 2>&1; then
    say "installing percona-toolkit (pt-online-schema-change, for tests/online.rs)"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get install -y --no-install-recommends percona-toolkit >/dev/null ||
            { apt-get update >/dev/null && apt-get install -y --no-install-recommends percona-toolkit >/dev/null; } ||
            die "apt-get could not install percona-toolkit"
    else
        die "pt-online-schema-change is not on PATH: install percona-toolkit (apt-get install percona-toolkit)"
    fi
fi
if [ -z "${DBTOOL_TEST_PYTHON:-}" ]; then
    venv="$PWD/target/ci-python"
    if ! "$venv/bin/python" -c 'import alembic, pymysql' >/dev/null 2>&1; then
        say "installing alembic and pymysql into $venv (the Alembic import tests)"
        python3 -m venv "$venv" && "$venv/bin/python" -m pip install --quiet \
            --disable-pip-version-check alembic==1.20.1 pymysql==1.2.4 ||
            die "could not install alembic and pymysql into $venv (on Debian's python3, \
apt-get install python3-venv first), or set DBTOOL_TEST_PYTHON to a Python that has them"
    fi
    export DBTOOL_TEST_PYTHON="$venv/bin/python"
fi

if [ -z "${DBTOOL_TEST_NODE_DIR:-}" ]; then
    node_dir="$PWD/target/ci-node"
    if [ ! -x "$node_dir/node_modules/.bin/knex" ] || [ ! -x "$node_dir/node_modules/.bin/dbmate" ]; then
        say "installing knex, mysql2 and dbmate into $node_dir (the real-tool import tests)"
        command -v npm >/dev/null 2>&1 || die "npm is not on PATH: install Node.js and npm (apt-get install npm), or set DBTOOL_TEST_NODE_DIR"
        mkdir -p "$node_dir"
        npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error \
            knex@3.3.0 mysql2@3 dbmate@2.36.0 >/dev/null ||
            die "npm could not install knex, mysql2 and dbmate into $node_dir"
    fi
    export DBTOOL_TEST_NODE_DIR="$node_dir"
fi

# sqlx-cli from crates.io, built from source with its own Cargo.lock (--locked), MySQL only
# (rustls for TLS): 73 s on the 2 cores idle, 2 min 13 s beside another build. Cargo builds
# it in a temporary folder (or CARGO_TARGET_DIR). DBTOOL_TEST_SQLX_DIR, when set, names an
# install root whose bin/ has sqlx.
if [ -z "${DBTOOL_TEST_SQLX_DIR:-}" ]; then
    sqlx_root="$PWD/target/ci-sqlx"
    if [ ! -x "$sqlx_root/bin/sqlx" ]; then
        say "installing sqlx-cli 0.9.0 into $sqlx_root (the real-tool import tests)"
        nice -n 10 cargo install --quiet --locked sqlx-cli@0.9.0 --no-default-features \
            --features mysql,rustls --root "$sqlx_root" ||
            die "cargo could not install sqlx-cli 0.9.0 into $sqlx_root"
    fi
    export DBTOOL_TEST_SQLX_DIR="$sqlx_root"
fi

say "building the tests"
cargo test --no-run --quiet

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Runs one server's suite; its output goes to the log prefixed with the server's name, so the
# two runs can share it.
run_suite() {
    local name=$1
    shift
    local start=$SECONDS status
    set +o pipefail # (in the background subshell only) the status is the suite's, below
    "$@" 2>&1 | tee "$logs/$name.out" | sed -u "s/^/[$name] /"
    status=${PIPESTATUS[0]}
    echo "$status $((SECONDS - start))" >"$logs/$name.status"
}

say "running: MariaDB at $DBTOOL_TEST_URL${mysql_url:+, MySQL at $mysql_url}"
run_suite mariadb cargo test -- --skip mysql_only_ "$@" &
maria_pid=$!
if [ -n "$mysql_url" ]; then
    run_suite mysql env DBTOOL_TEST_URL="$mysql_url" DBTOOL_TEST_SERVER=mysql \
        ${client:+DBTOOL_TEST_CLIENT="$client"} \
        cargo test --test it --test global_read_lock --test server_hazards --test online --test split_differential -- --skip mariadb_only_ "$@" &
    mysql_pid=$!
fi
wait "$maria_pid" || true
if [ -n "$mysql_url" ]; then wait "$mysql_pid" || true; fi

# `name ok|FAILED: N passed, M failed, S s`; returns the suite's status.
summary() {
    local name=$1 status secs passed failed
    read -r status secs <"$logs/$name.status"
    passed=$(awk '/^test result:/ { s += $4 } END { print s + 0 }' "$logs/$name.out")
    failed=$(awk '/^test result:/ { s += $6 } END { print s + 0 }' "$logs/$name.out")
    printf '%-8s %s: %s passed, %s failed, %s s\n' "$name" \
        "$([ "$status" = 0 ] && echo ok || echo FAILED)" "$passed" "$failed" "$secs"
    return "$status"
}

say "results"
status=0
summary mariadb || status=1
if [ -n "$mysql_url" ]; then summary mysql || status=1; fi
exit "$status"
