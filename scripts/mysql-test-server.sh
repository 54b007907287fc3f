#!/usr/bin/env bash
# A real MySQL server for dbtool's tests, in a minimal Debian root (debootstrap), beside the
# machine's own MariaDB.
#
#   scripts/mysql-test-server.sh start    build the root once, initialise, start, print the URL
#   scripts/mysql-test-server.sh stop     stop the server this script started (by its pid)
#   scripts/mysql-test-server.sh status   print the URL and exit 0 if it answers, else exit 1
#   scripts/mysql-test-server.sh url      print the URL (whether or not it runs)
#   scripts/mysql-test-server.sh client [ARGS...]   run the root's `mysql` client against it
#   scripts/mysql-test-server.sh client-command     print the command that runs the root's
#                                                   `mysql` client (no connection options)
#
# Idempotent: `start` on a running server only prints its URL; `stop` on a stopped one does
# nothing. The root is reused when present (building it takes about 3 minutes and 830 MB).
#
# Settings (environment):
#   DBTOOL_MYSQL_ROOT    the Debian root          [/var/cache/dbtool/mysql-root]
#   DBTOOL_MYSQL_SUITE   Debian suite to take MySQL from [sid: mysql-server-core 9.7]
#   DBTOOL_MYSQL_MIRROR  Debian mirror            [the first deb.debian.org-style URI in the
#                                                  machine's apt sources]
#   DBTOOL_MYSQL_PORT    port to listen on        [3307, or the next free one]
#
# Needs root (debootstrap and chroot); CI runs as root. Only stdout carries the URL, so
# `url=$(scripts/mysql-test-server.sh start)` works; progress goes to stderr.
set -euo pipefail

ROOT="${DBTOOL_MYSQL_ROOT:-/var/cache/dbtool/mysql-root}"
SUITE="${DBTOOL_MYSQL_SUITE:-sid}"
DATADIR=/var/lib/mysql-test          # inside the root
RUNDIR=/run/mysqld-test              # inside the root
STATE="$ROOT$RUNDIR"                 # pid and port files, seen from the host

say() { printf 'mysql-test-server: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "needs root to run: $*"
    fi
}

mirror() {
    if [ -n "${DBTOOL_MYSQL_MIRROR:-}" ]; then
        echo "$DBTOOL_MYSQL_MIRROR"
        return
    fi
    local m
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/\?$/\1/p' | head -n1)
    if [ -z "$m" ]; then
        m=$(sed -n 's/^deb \(http[^ ]*\/debian\)\/\? .*/\1/p' /etc/apt/sources.list 2>/dev/null |
            head -n1)
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

build_root() {
    if [ -x "$ROOT/usr/sbin/mysqld" ] && [ -x "$ROOT/usr/bin/mysql" ]; then
        return
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
        say "installing debootstrap"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            debootstrap >&2 || {
            as_root apt-get update >&2
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y \
                --no-install-recommends debootstrap >&2
        }
    fi
    local tmp="$ROOT.building"
    as_root rm -rf "$tmp"
    as_root mkdir -p "$(dirname "$ROOT")"
    say "building the MySQL root in $ROOT from $(mirror) ($SUITE; about 3 minutes)"
    if ! as_root debootstrap --variant=minbase --include=mysql-server-core,mysql-client \
        "$SUITE" "$tmp" "$(mirror)" >"$tmp.log" 2>&1; then
        tail -n 20 "$tmp.log" >&2
        die "debootstrap failed (log: $tmp.log)"
    fi
    # Only a complete root is ever at $ROOT, so an interrupted build is started over.
    as_root mv "$tmp" "$ROOT"
    as_root rm -f "$tmp.log"
}

pid_of_ours() {
    local pid
    pid=$(cat "$STATE/mysqld.pid" 2>/dev/null || true)
    [ -n "$pid" ] || return 1
    # The pid must still be a mysqld whose root is ours (not a recycled pid).
    [ -d "/proc/$pid" ] || return 1
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$(readlink -f "$ROOT")" ] || return 1
    echo "$pid"
}

port() { cat "$STATE/port" 2>/dev/null || echo "${DBTOOL_MYSQL_PORT:-3307}"; }

url() { echo "mysql://root@127.0.0.1:$(port)"; }

client() { chroot "$ROOT" /usr/bin/mysql --protocol=TCP -h127.0.0.1 -P"$(port)" -uroot "$@"; }

answers() { chroot "$ROOT" /usr/bin/mysqladmin --protocol=TCP -h127.0.0.1 -P"$(port)" -uroot \
    --connect-timeout=2 ping >/dev/null 2>&1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
    if pid_of_ours >/dev/null && answers; then
        url
        return
    fi
    build_root
    as_root mkdir -p "$STATE"
    if [ ! -d "$ROOT$DATADIR/mysql" ]; then
        say "initialising $DATADIR"
        as_root rm -rf "$ROOT$DATADIR"
        as_root chroot "$ROOT" /usr/sbin/mysqld --initialize-insecure --user=root \
            --datadir="$DATADIR" >&2 2>"$STATE/init.log" || {
            cat "$STATE/init.log" >&2
            die "mysqld --initialize-insecure failed"
        }
    fi
    local p="${DBTOOL_MYSQL_PORT:-3307}"
    if [ -z "${DBTOOL_MYSQL_PORT:-}" ]; then
        while ! port_free "$p"; do p=$((p + 1)); done
    elif ! port_free "$p"; then
        die "port $p is taken (DBTOOL_MYSQL_PORT)"
    fi
    echo "$p" | as_root tee "$STATE/port" >/dev/null
    as_root rm -f "$STATE/mysqld.pid"
    say "starting MySQL on 127.0.0.1:$p"
    # setsid: the server outlives this script and the shell that ran it.
    as_root setsid chroot "$ROOT" /usr/sbin/mysqld --user=root --datadir="$DATADIR" \
        --port="$p" --bind-address=127.0.0.1 --socket="$RUNDIR/mysqld.sock" \
        --pid-file="$RUNDIR/mysqld.pid" --mysqlx=OFF --secure-file-priv= \
        --log-error="$RUNDIR/error.log" --max-connections=1000 \
        </dev/null >/dev/null 2>&1 &
    local deadline=$((SECONDS + 120))
    until answers; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 30 "$STATE/error.log" >&2 || true
            die "MySQL did not answer on 127.0.0.1:$p within 120 s (log: $STATE/error.log)"
        fi
        sleep 0.5
    done
    # root@localhost only exists after --initialize-insecure; TCP from 127.0.0.1 needs its own.
    client -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; \
GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" >&2 2>/dev/null || true
    say "$(client -N -e 'SELECT VERSION()') answers"
    url
}

stop() {
    local pid
    if ! pid=$(pid_of_ours); then
        say "not running"
        return
    fi
    as_root kill "$pid"
    local deadline=$((SECONDS + 60))
    while [ -d "/proc/$pid" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "mysqld $pid did not stop in 60 s; killing it"
            as_root kill -9 "$pid" || true
            break
        fi
        sleep 0.2
    done
    say "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
    if pid_of_ours >/dev/null && answers; then url; else
        say "not running"
        exit 1
    fi
    ;;
url) url ;;
client-command)
    [ -x "$ROOT/usr/bin/mysql" ] || die "no MySQL root at $ROOT yet (run start)"
    echo "chroot $ROOT /usr/bin/mysql"
    ;;
client)
    shift
    client "$@"
    ;;
*)
    sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
