#!/usr/bin/env bash
# calls.sh — call set-up load through the SIP proxy: sipp calls one callee
# extension from many caller extensions, each call authenticated with a
# digest challenge, answered by a sipp UAS and hung up, against
# `sentral serve`; the server's CPU time is read from /proc. Figures go to
# docs/performance.md ("Calls through the proxy").
#
#   bash bench/calls.sh                       # 1,000 calls/s for 10 s, SQLite
#   RATE=250 DURATION=10 bash bench/calls.sh
#
# One call (bench/sipp/uac_call.xml against bench/sipp/uas_answer.xml):
#   caller -> proxy   INVITE                 proxy -> caller  (100) 407
#   caller -> proxy   ACK (of the 407)
#   caller -> proxy   INVITE + Proxy-Authorization
#                                            proxy -> caller  100, 180, 200
#                     proxy -> callee  INVITE; callee -> proxy 180, 200
#   caller -> proxy -> callee  ACK (along the Record-Route)
#   ... HOLD ms ...
#   caller -> proxy -> callee  BYE; callee -> proxy -> caller 200
#
# Settings (environment):
#   RATE        new calls per second                                       1000
#   DURATION    seconds of load; sipp makes RATE*DURATION calls              10
#   USERS       caller extensions provisioned and cycled through          10000
#   HOLD        ms between the ACK and the BYE                              500
#   LIMIT       sipp's cap on calls in flight (-l)                       4*RATE
#   LOG_LEVEL   server log level                                          info
#   KEEP        1 keeps the work directory (logs, sipp files)                0
#   PERF        1 samples the server with `perf record -g` during the load
#               and prints the top functions (needs perf; implies KEEP=1)   0
#
# The callee is one extension (CALLEE, 90000) registered by sipp
# (bench/sipp/register.xml) from the port its UAS then answers on: the
# proxy sends to where a binding came from. Callers are FIRST.. (10000..),
# one per call from an injection file, so every call authenticates a
# different extension until the file wraps.
#
# Everything binds 127.0.0.1 on ports the kernel reports free, lives in a
# temp directory removed on exit, and the server and both sipp processes
# are stopped however the script ends. sipp runs on the same machine.
#
# Two settings differ from the shipped defaults, as in register.sh:
#   SENTRAL_SIP_REGISTRAR_DIGEST_ALGORITHMS=MD5,SHA-256
#       sipp 3.6 computes MD5 only and reads only the first challenge; the
#       proxy's 407 follows the same setting.
#   SENTRAL_SIP_GUARD_RATE / SENTRAL_SIP_GUARD_BURST = 10x (4*RATE)
#       every request comes from 127.0.0.1 (four from the caller per call),
#       which the per-source limit (default 50/s, burst 100) would drop.
set -euo pipefail

RATE=${RATE:-1000}
DURATION=${DURATION:-10}
USERS=${USERS:-10000}
HOLD=${HOLD:-500}
LIMIT=${LIMIT:-$((RATE * 4))}
LOG_LEVEL=${LOG_LEVEL:-info}
KEEP=${KEEP:-0}
PERF=${PERF:-0}
[[ $PERF == 1 ]] && KEEP=1
DOMAIN=bench.test
TENANT=bench
FIRST=10000  # first caller; USERS numbers from here
CALLEE=90000 # the extension every call goes to

die() { echo "calls.sh: $*" >&2; exit 1; }
for n in RATE DURATION USERS LIMIT; do
	[[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n=${!n}: want a positive whole number"
done
[[ $HOLD =~ ^[0-9]+$ ]] || die "HOLD=$HOLD: want a whole number of milliseconds"
((USERS <= CALLEE - FIRST)) || die "USERS=$USERS: at most $((CALLEE - FIRST)) (numbers $FIRST-$((CALLEE - 1)))"
command -v sipp >/dev/null || die "sipp is not installed (Debian package sip-tester)"
command -v curl >/dev/null || die "curl is not installed"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d /tmp/sentral-bench-calls.XXXXXX)
SERVER_PID=
UAS_PID=
PERF_PID=

stop_pid() { # stop_pid PID SIGNAL: signal, wait up to 5 s, then KILL
	kill -0 "$1" 2>/dev/null || return 0
	kill "-$2" "$1" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	if [[ -n $PERF_PID ]] && kill -0 "$PERF_PID" 2>/dev/null; then
		kill -INT "$PERF_PID" 2>/dev/null || true
		wait "$PERF_PID" 2>/dev/null || true
	fi
	[[ -n $UAS_PID ]] && stop_pid "$UAS_PID" TERM
	[[ -n $SERVER_PID ]] && stop_pid "$SERVER_PID" TERM
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
export SENTRAL_DB=$WORK/sentral.db

echo "== provision tenant $TENANT ($DOMAIN): $USERS callers from $FIRST, callee $CALLEE"
LAST=$((FIRST + USERS - 1))
"$BIN" tenant add "$TENANT" --domain "$DOMAIN" --ext-range "$FIRST-$CALLEE" >/dev/null
# Passwords as in register.sh: the number's digits spelled as letters.
awk -v first="$FIRST" -v last="$LAST" -v callee="$CALLEE" -v csv="$WORK/extensions.csv" \
	-v inf="$WORK/callers.csv" -v cinf="$WORK/callee.csv" '
function pw(n,    s, p, i) { s = n ""; p = ""
	for (i = 1; i <= length(s); i++) p = p substr("abcdefghij", substr(s, i, 1) + 1, 1)
	return "Bench-" p "-9Q" }
BEGIN {
	print "number,name,password" > csv
	print "SEQUENTIAL" > inf
	for (n = first; n <= last; n++) {
		printf "%d,Bench Caller %d,%s\n", n, n, pw(n) > csv
		printf "%d;%s;[authentication username=%d password=%s]\n", n, pw(n), n, pw(n) > inf
	}
	printf "%d,Bench Callee,%s\n", callee, pw(callee) > csv
	print "SEQUENTIAL" > cinf
	printf "%d;%s;[authentication username=%d password=%s]\n", callee, pw(callee), callee, pw(callee) > cinf
}'
"$BIN" import extensions "$WORK/extensions.csv" --tenant "$TENANT" -o json >"$WORK/import.json"

SIP_PORT=$(free_port udp)
ADMIN_PORT=$(free_port tcp)
UAC_PORT=$(free_port udp)
UAS_PORT=$(free_port udp)
GUARD=$((RATE * 40))

start_server "$GUARD"


echo "== register the callee $CALLEE from 127.0.0.1:$UAS_PORT"
mkdir -p "$WORK/reg"
# shellcheck disable=SC2046
(cd "$WORK/reg" && timeout -k 5 30 sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/bench/sipp/register.xml" \
	-inf "$WORK/callee.csv" -key domain "$DOMAIN" -p "$UAS_PORT" $(sipp_common) \
	-m 1 -timeout 15s -timeout_error -trace_err >"$WORK/reg/sipp.out" 2>&1) ||
	{ cat "$WORK"/reg/*errors.log >&2 2>/dev/null; die "registering the callee failed"; }
# The location service writes bindings to the store in batches.
for i in $(seq 1 50); do
	"$BIN" sip registrations --tenant "$TENANT" -o csv >"$WORK/registrations.csv"
	grep -q "127.0.0.1:$UAS_PORT" "$WORK/registrations.csv" && break
	((i < 50)) || { cat "$WORK/registrations.csv" >&2; die "no binding of $CALLEE from 127.0.0.1:$UAS_PORT"; }
	sleep 0.1
done

CALLS=$((RATE * DURATION))
TIMEOUT=$((DURATION * 3 + 30))
start_uas

echo "== sipp UAC: $CALLS calls at $RATE/s, hold $HOLD ms, at most $LIMIT in flight"
TCK=$(getconf CLK_TCK)
mkdir -p "$WORK/uac"
if [[ $PERF == 1 ]]; then
	command -v perf >/dev/null || die "PERF=1 but perf is not installed"
	perf record -q -F 499 -g -p "$SERVER_PID" -o "$WORK/perf.data" >"$WORK/perf.log" 2>&1 &
	PERF_PID=$!
	sleep 0.5
fi
UAC_COMMON=$(sipp_common) # before the baseline: it runs python for free ports
udp_drops0=$(udp_drops)
cpu0=$(cpu_ticks "$SERVER_PID")
uas0=$(cpu_ticks "$UAS_PID")
w0=$(date +%s.%N)
set +e
# shellcheck disable=SC2086
(cd "$WORK/uac" && timeout -k 5 $((TIMEOUT + 30)) \
	/usr/bin/time -f '%U %S' -o "$WORK/uac/sipp.time" \
	sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/bench/sipp/uac_call.xml" -inf "$WORK/callers.csv" \
	-s "$CALLEE" -key domain "$DOMAIN" -p "$UAC_PORT" $UAC_COMMON \
	-d "$HOLD" -r "$RATE" -rp 1000 -m "$CALLS" -l "$LIMIT" \
	-timeout "${TIMEOUT}s" -trace_stat -stf "$WORK/uac/stat.csv" -fd 1 -trace_screen -trace_err \
	>"$WORK/uac/sipp.out" 2>&1)
UAC_RC=$?
set -e
w1=$(date +%s.%N)
cpu1=$(cpu_ticks "$SERVER_PID")
udp_drops1=$(udp_drops)
if [[ -n $PERF_PID ]]; then
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=
fi
# Late retransmissions and BYEs reach the UAS within a second; then read
# its CPU and stop it (SIGUSR1 is sipp's graceful quit, which writes the
# final statistics).
sleep 1
uas1=$(cpu_ticks "$UAS_PID")
stop_pid "$UAS_PID" USR1
wait "$UAS_PID" 2>/dev/null || true
UAS_PID=
stop_pid "$SERVER_PID" TERM
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

calls_report "sqlite, $(nproc) CPUs, sipp UAC and UAS on the same machine"
printf '%-36s %.2f s\n' "server CPU" "$cpu"
if ((ok > 0)); then
	printf '%-36s %.3f s\n' "server CPU per 1,000 calls" "$(echo "$cpu * 1000 / $ok" | bc -l)"
fi
# Shares of one core over the load interval: outside it (sipp start-up
# and exit) the server is idle.
printf '%-36s %.1f %%\n' "server, % of one core" "$(echo "$cpu * 100 / $load" | bc -l)"
printf '%-36s %.2f s (%.1f %% of one core)\n' "sipp UAC CPU" "$uac_cpu" "$(echo "$uac_cpu * 100 / $load" | bc -l)"
printf '%-36s %.2f s (%.1f %% of one core)\n' "sipp UAS CPU" "$uas_cpu" "$(echo "$uas_cpu * 100 / $load" | bc -l)"
printf '%-36s %s\n' "kernel UDP receive-buffer drops" "$((udp_drops1 - udp_drops0)) (whole machine, /proc/net/snmp RcvbufErrors)"
printf '%-36s %s\n' "server log lines at warn or above" "$(grep -c '"level":"\(warn\|error\|fatal\|panic\|dpanic\)"' "$WORK/server.log" || true)"
if ((failed > 0 || uas_failed > 0)) || [[ $UAC_RC -ne 0 ]]; then
	echo "-- UAC failure counters: $(nonzero "$U" '^Failed')"
	echo "-- UAS failure counters: $(nonzero "$S" '^Failed')"
	echo "-- UAC sipp errors (first lines):"
	cat "$WORK"/uac/*errors.log 2>/dev/null | head -c 1500 || true
	echo
	echo "-- UAS sipp errors (first lines):"
	cat "$WORK"/uas/*errors.log 2>/dev/null | head -c 1500 || true
	echo
	echo "-- server warnings (first lines):"
	grep '"level":"\(warn\|error\)"' "$WORK/server.log" | head -10 || true
fi
if [[ $PERF == 1 ]]; then
	perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
		grep -E '^ +[0-9]' | head -40 >"$WORK/perf-self.txt" || true
	perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | head -60 >"$WORK/perf-children.txt" || true
	echo "-- perf: top functions by own time ($WORK/perf-self.txt; inclusive: perf-children.txt)"
	head -25 "$WORK/perf-self.txt"
fi
