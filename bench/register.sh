#!/usr/bin/env bash
# register.sh — SIP registrar load test: sipp registers USERS extensions
# with digest authentication against `sentral serve`, and the server's CPU
# time is read from /proc. Figures go to docs/performance.md.
#
#   bash bench/register.sh                      # 10,000 REGISTER/s for 10 s, SQLite
#   RATE=2000 DURATION=10 bash bench/register.sh
#   STORE=postgres SENTRAL_TEST_PG=postgres://... bash bench/register.sh
#
# Settings (environment):
#   RATE        calls (= registrations, 2 round trips each) per second   10000
#   DURATION    seconds of load; sipp makes RATE*DURATION calls            10
#   USERS       extensions provisioned and cycled through                 10000
#   LIMIT       sipp's cap on calls in flight (-l)                         RATE
#   STORE       sqlite or postgres (postgres needs SENTRAL_TEST_PG,
#               an admin DSN such as scripts/pg-test.sh prints)          sqlite
#   LOG_LEVEL   server log level; info logs one line per registration     info
#   KEEP        1 keeps the work directory (logs, sipp files)                 0
#   PERF        1 samples the server with `perf record -g` during the load
#               and prints the top functions (needs perf; implies KEEP=1)    0
#
# Everything binds 127.0.0.1 on ports the kernel reports free, lives in a
# temp directory removed on exit, and the server and sipp are stopped
# however the script ends. sipp runs on the same machine as the server.
#
# Two settings differ from the shipped defaults, both through the environment:
#   SENTRAL_SIP_REGISTRAR_DIGEST_ALGORITHMS=MD5,SHA-256
#       sipp 3.6 computes MD5 only and reads only the first challenge.
#   SENTRAL_SIP_GUARD_RATE / SENTRAL_SIP_GUARD_BURST = 10x RATE
#       the per-source rate limit (default 50/s, burst 100) would drop a
#       single-address load generator; raising it (rather than exempting
#       127.0.0.0/8) keeps the guard's bookkeeping in the measured path.
set -euo pipefail

RATE=${RATE:-10000}
DURATION=${DURATION:-10}
USERS=${USERS:-10000}
LIMIT=${LIMIT:-$RATE}
STORE=${STORE:-sqlite}
LOG_LEVEL=${LOG_LEVEL:-info}
KEEP=${KEEP:-0}
PERF=${PERF:-0}
[[ $PERF == 1 ]] && KEEP=1
DOMAIN=bench.test
TENANT=bench
FIRST=10000 # first extension number; USERS numbers from here

die() { echo "register.sh: $*" >&2; exit 1; }
for n in RATE DURATION USERS LIMIT; do
	[[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n=${!n}: want a positive whole number"
done
((USERS <= 89999)) || die "USERS=$USERS: at most 89999 (numbers $FIRST-99999)"
command -v sipp >/dev/null || die "sipp is not installed (Debian package sip-tester)"
command -v curl >/dev/null || die "curl is not installed"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d /tmp/sentral-bench-register.XXXXXX)
SERVER_PID=
PERF_PID=
PGDB=

cleanup() {
	local rc=$?
	if [[ -n $PERF_PID ]] && kill -0 "$PERF_PID" 2>/dev/null; then
		kill -INT "$PERF_PID" 2>/dev/null || true
		wait "$PERF_PID" 2>/dev/null || true
	fi
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	if [[ -n $PGDB ]]; then
		psql -q "$SENTRAL_TEST_PG" -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true
	fi
	if [[ $KEEP == 1 || $rc -ne 0 ]]; then
		echo "work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


echo "== build"
(cd "$ROOT" && go build -o "$WORK/sentral" ./cmd/sentral)
BIN=$WORK/sentral

case $STORE in
sqlite) DB=$WORK/sentral.db ;;
postgres)
	[[ -n ${SENTRAL_TEST_PG:-} ]] || die "STORE=postgres needs SENTRAL_TEST_PG (eval \"\$(scripts/pg-test.sh start)\")"
	command -v psql >/dev/null || die "psql is not installed"
	PGDB=sentral_bench_reg_$$
	psql -q "$SENTRAL_TEST_PG" -c "CREATE DATABASE $PGDB" >/dev/null
	base=${SENTRAL_TEST_PG%%\?*}
	query=
	[[ $SENTRAL_TEST_PG == *\?* ]] && query="?${SENTRAL_TEST_PG#*\?}"
	DB="${base%/*}/$PGDB$query"
	;;
*) die "STORE=$STORE: use sqlite or postgres" ;;
esac
export SENTRAL_DB=$DB

echo "== provision tenant $TENANT ($DOMAIN) with $USERS extensions ($STORE)"
LAST=$((FIRST + USERS - 1))
"$BIN" tenant add "$TENANT" --domain "$DOMAIN" --ext-range "$FIRST-$LAST" >/dev/null
# Passwords are unique per extension and pass the default policy: the digits
# of the number spelled as letters (0->a ... 9->j), so the password never
# contains the number itself. No PINs: only the SIP HA1s are hashed.
awk -v first="$FIRST" -v last="$LAST" -v csv="$WORK/extensions.csv" -v inf="$WORK/users.csv" 'BEGIN {
	print "number,name,password" > csv
	print "SEQUENTIAL" > inf
	for (n = first; n <= last; n++) {
		s = n ""; pw = ""
		for (i = 1; i <= length(s); i++) pw = pw substr("abcdefghij", substr(s, i, 1) + 1, 1)
		pw = "Bench-" pw "-9Q"
		printf "%d,Bench User %d,%s\n", n, n, pw > csv
		printf "%d;%s;[authentication username=%d password=%s]\n", n, pw, n, pw > inf
	}
}'
t0=$(date +%s.%N)
"$BIN" import extensions "$WORK/extensions.csv" --tenant "$TENANT" -o json >"$WORK/import.json"
t1=$(date +%s.%N)
printf 'imported %d extensions in %.2f s (CLI, process start included)\n' "$USERS" "$(echo "$t1 - $t0" | bc -l)"

SIP_PORT=$(free_port udp)
ADMIN_PORT=$(free_port tcp)
SIPP_PORT=$(free_port udp)
MEDIA_PORT=$(free_port udp)
CTRL_PORT=$(free_port udp) # sipp binds its control socket on all addresses
GUARD=$((RATE * 10))

start_server "$GUARD"
sleep 0.5 # let start-up work settle before the CPU baseline

CALLS=$((RATE * DURATION))
echo "== sipp: $CALLS registrations at $RATE/s, at most $LIMIT in flight"
TCK=$(getconf CLK_TCK)
if [[ $PERF == 1 ]]; then
	command -v perf >/dev/null || die "PERF=1 but perf is not installed"
	perf record -q -F 499 -g -p "$SERVER_PID" -o "$WORK/perf.data" >"$WORK/perf.log" 2>&1 &
	PERF_PID=$!
	sleep 0.5
fi
udp_drops0=$(udp_drops)
cpu0=$(cpu_ticks "$SERVER_PID")
w0=$(date +%s.%N)
set +e
(cd "$WORK" && timeout -k 5 $((DURATION * 3 + 60)) \
	/usr/bin/time -f '%U %S' -o "$WORK/sipp.time" \
	sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/bench/sipp/register.xml" -inf "$WORK/users.csv" \
	-key domain "$DOMAIN" -t u1 -i 127.0.0.1 -p "$SIPP_PORT" -mi 127.0.0.1 -mp "$MEDIA_PORT" -cp "$CTRL_PORT" \
	-buff_size 4194304 \
	-r "$RATE" -rp 1000 -m "$CALLS" -l "$LIMIT" \
	-timeout $((DURATION * 3 + 30))s -nostdin \
	-trace_stat -stf "$WORK/stat.csv" -fd 1 -trace_screen -trace_err \
	>"$WORK/sipp.out" 2>&1)
SIPP_RC=$?
set -e
w1=$(date +%s.%N)
cpu1=$(cpu_ticks "$SERVER_PID")
udp_drops1=$(udp_drops)
if [[ -n $PERF_PID ]]; then
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=
fi
sleep 1.5 # the location service writes bindings to the store in batches
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=

# sipp's final statistics: the last row of the -trace_stat file, by column name.
register_report "$STORE, $(nproc) CPUs, sipp on the same machine"
registered=$("$BIN" sip registrations --tenant "$TENANT" -o csv | tail -n +2 | wc -l)
printf '%-34s %.2f s\n' "server CPU" "$cpu"
if ((ok > 0)); then
	printf '%-34s %.3f s\n' "server CPU per 1,000 REGISTERs" "$(echo "$cpu * 1000 / $ok" | bc -l)"
fi
printf '%-34s %.1f %%\n' "server, % of one core" "$(echo "$cpu * 100 / $wall" | bc -l)"
printf '%-34s %.2f s (%.1f %% of one core)\n' "sipp CPU" "$sipp_cpu" "$(echo "$sipp_cpu * 100 / $wall" | bc -l)"
printf '%-34s %s of %s\n' "bindings in the store afterwards" "$registered" "$USERS"
printf '%-34s %s\n' "kernel UDP receive-buffer drops" "$((udp_drops1 - udp_drops0)) (whole machine, /proc/net/snmp RcvbufErrors)"
if ((failed > 0)) || [[ $SIPP_RC -ne 0 ]]; then
	echo "-- sipp errors (first lines):"
	cat "$WORK"/*errors.log 2>/dev/null | head -c 1200 || true
	echo
fi
if [[ $PERF == 1 ]]; then
	perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
		grep -E '^ +[0-9]' | head -40 >"$WORK/perf-self.txt" || true
	perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | head -60 >"$WORK/perf-children.txt" || true
	echo "-- perf: top functions by own time ($WORK/perf-self.txt; inclusive: perf-children.txt)"
	head -25 "$WORK/perf-self.txt"
fi
