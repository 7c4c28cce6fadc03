#!/usr/bin/env bash
# pg-test.sh — a throwaway PostgreSQL 15 for the store conformance suite.
#
#   scripts/pg-test.sh start [PORT]   # prints: export SENTRAL_TEST_PG=...
#   scripts/pg-test.sh stop  [PORT]
#
# Typical use:  eval "$(scripts/pg-test.sh start)"; go test ./store/...; scripts/pg-test.sh stop
#
# Runs as root on Debian 12 with the `postgresql` package installed (or as the
# postgres user). The cluster lives in a temp dir owned by postgres, listens on
# 127.0.0.1 only, trusts every local connection and runs with fsync off: it is
# for tests and nothing else. State (data dir per port) is kept under /tmp so
# `stop` can find what `start` made, and several ports can coexist.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${2:-55432}
STATE=/tmp/sentral-pg-test.$PORT.state

die() { echo "pg-test: $*" >&2; exit 1; }

# as_pg runs a command as the postgres user: initdb and postgres refuse root.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	[ -x "$PGBIN/initdb" ] || die "no $PGBIN/initdb: install the postgresql package (Debian 12: PostgreSQL 15)"
	if [ -f "$STATE" ]; then
		local old
		old=$(cat "$STATE")
		if [ -d "$old/data" ] && as_pg "$PGBIN/pg_ctl" -D "$old/data" status >/dev/null 2>&1; then
			die "a test server already runs on port $PORT (data $old); run '$0 stop $PORT' first"
		fi
		rm -rf "$old" "$STATE" # stale state from a crashed run
	fi

	local dir
	dir=$(mktemp -d /tmp/sentral-pg-test.XXXXXX)
	# mktemp makes the dir 0700 root-owned; postgres must own it, and the
	# socket dir (-k) is the same dir, so nobody else needs access.
	if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
	echo "$dir" >"$STATE" # failures below call stop, so nothing is left behind

	as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; stop; die "initdb failed"; }

	# -w waits for start-up; the log stays in the dir for post-mortems.
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $PORT -k $dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200" \
		start >/dev/null ||
		{ cat "$dir/server.log" >&2; stop; die "postgres did not start"; }

	# pg_ctl -w already waited, but check the TCP listener the tests use.
	local i
	for i in $(seq 1 50); do
		if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres; then
			echo "export SENTRAL_TEST_PG=postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
			return 0
		fi
		sleep 0.1
	done
	cat "$dir/server.log" >&2
	stop
	die "postgres on 127.0.0.1:$PORT is not ready"
}

stop() {
	[ -f "$STATE" ] || { echo "pg-test: nothing to stop on port $PORT" >&2; return 0; }
	local dir
	dir=$(cat "$STATE")
	if [ -d "$dir/data" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir" "$STATE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) die "usage: $0 start|stop [PORT]  (default port 55432)" ;;
esac
