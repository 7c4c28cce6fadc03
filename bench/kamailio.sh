#!/usr/bin/env bash
# kamailio.sh — reference measurement: the load of bench/register.sh and
# bench/calls.sh, with the same sipp scenarios and flags, against Kamailio
# (Debian packages kamailio and kamailio-sqlite-modules) instead of
# `sentral serve`. Kamailio's CPU time is utime+stime summed over all its
# processes from /proc, before and after the sipp run. Figures go to
# docs/performance.md; bench/kamailio/README.md has the table.
#
#   bash bench/kamailio.sh                          # MODE=register, 10,000 REGISTER/s for 10 s
#   RATE=5000 bash bench/kamailio.sh
#   MODE=calls bash bench/kamailio.sh               # 1,000 calls/s for 10 s, hold 500 ms
#   CHILDREN=2 MODE=calls bash bench/kamailio.sh
#   BADPW=1 RATE=100 DURATION=2 bash bench/kamailio.sh   # wrong passwords: all must fail
#
# Settings (environment):
#   MODE        register or calls                                    register
#   RATE        registrations or new calls per second   10000 / 1000 (calls)
#   DURATION    seconds of load; sipp makes RATE*DURATION calls            10
#   USERS       extensions provisioned (10000..) and cycled through     10000
#   LIMIT       sipp's cap on calls in flight (-l)      RATE / 4*RATE (calls)
#   HOLD        calls: ms between the ACK and the BYE                     500
#   CHILDREN    Kamailio UDP worker processes (-n)                          4
#   SHM_MB      Kamailio shared memory (-m), MB                           512
#   PKG_MB      Kamailio private memory per process (-M), MB               16
#   MAXBUFFER   UDP receive-buffer probe limit (-b), bytes; Sentral asks for
#               4 MiB, Kamailio's compiled-in default is 262144       4194304
#   MEMMGR      Kamailio memory manager for shm and pkg (-x/-X): qm, fm or
#               tlsf; empty keeps the package's default (qm)             (empty)
#   DB_MODE     usrloc db_mode: 0 memory only; 2 write-back to the SQLite
#               location table every second (closer to Sentral's
#               write-behind of bindings)                                   0
#   BADPW       1 gives sipp wrong passwords (every call must fail)         0
#   KEEP        1 keeps the work directory (config, logs, sipp files)       0
#   PERF        1 samples all Kamailio processes with `perf record -g`
#               during the load and prints the top functions (implies KEEP=1) 0
#
# Kamailio: bench/kamailio/kamailio.cfg, the packaged config's routing with
# WITH_AUTH; auth_db over db_sqlite with stored HA1s; registrar + usrloc in
# memory; rr + tm for the calls. It listens only on udp:127.0.0.1 on a port
# the kernel reports free, runs in the foreground (-DD) with its pid file,
# working directory, SQLite file and kamcmd socket in a temp directory that
# is removed on exit; Kamailio and sipp are stopped however the script ends,
# and every sipp run is bounded by `timeout` (the load run is waited for in
# the background, so a signal stops the script at once). sipp runs on the
# same machine.
set -euo pipefail

MODE=${MODE:-register}
case $MODE in
register) RATE=${RATE:-10000}; LIMIT=${LIMIT:-$RATE} ;;
calls) RATE=${RATE:-1000}; LIMIT=${LIMIT:-$((RATE * 4))} ;;
*) echo "kamailio.sh: MODE=$MODE: use register or calls" >&2; exit 1 ;;
esac
DURATION=${DURATION:-10}
USERS=${USERS:-10000}
HOLD=${HOLD:-500}
CHILDREN=${CHILDREN:-4}
SHM_MB=${SHM_MB:-512}
PKG_MB=${PKG_MB:-16}
MAXBUFFER=${MAXBUFFER:-4194304}
DB_MODE=${DB_MODE:-0}
MEMMGR=${MEMMGR:-}
BADPW=${BADPW:-0}
KEEP=${KEEP:-0}
PERF=${PERF:-0}
[[ $PERF == 1 ]] && KEEP=1
DOMAIN=bench.test # also the alias in kamailio.cfg
FIRST=10000       # first extension; USERS numbers from here
CALLEE=90000      # calls: the extension every call goes to

die() { echo "kamailio.sh: $*" >&2; exit 1; }
for n in RATE DURATION USERS LIMIT CHILDREN SHM_MB PKG_MB MAXBUFFER; do
	[[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n=${!n}: want a positive whole number"
done
[[ $HOLD =~ ^[0-9]+$ ]] || die "HOLD=$HOLD: want a whole number of milliseconds"
[[ $DB_MODE == 0 || $DB_MODE == 2 ]] || die "DB_MODE=$DB_MODE: use 0 or 2"
[[ -z $MEMMGR || $MEMMGR =~ ^(qm|fm|tlsf)$ ]] || die "MEMMGR=$MEMMGR: use qm, fm or tlsf"
MEMOPTS=()
[[ -n $MEMMGR ]] && MEMOPTS=(-x "$MEMMGR" -X "$MEMMGR")
((USERS <= CALLEE - FIRST)) || die "USERS=$USERS: at most $((CALLEE - FIRST))"
for c in kamailio kamcmd sipp sqlite3 python3; do
	command -v "$c" >/dev/null || die "$c is not installed"
done
[[ -n $(find /usr/lib /usr/local/lib -name db_sqlite.so -path '*kamailio*' -print -quit 2>/dev/null) ]] ||
	die "Kamailio's db_sqlite.so not found (Debian package kamailio-sqlite-modules)"
[[ -d /usr/share/kamailio/db_sqlite ]] || die "no /usr/share/kamailio/db_sqlite schema (kamailio-sqlite-modules)"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CFG=$ROOT/bench/kamailio/kamailio.cfg
WORK=$(mktemp -d /tmp/kamailio-bench-$MODE.XXXXXX)
KAM_PID=
KAM_KIDS=
UAS_PID=
PERF_PID=
SIPP_PID= # the load run: `timeout`, which passes a signal on to sipp

stop_pid() { # stop_pid PID SIGNAL: signal, wait up to 5 s, then KILL
	kill -0 "$1" 2>/dev/null || return 0
	kill "-$2" "$1" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
}

stop_kamailio() {
	local p
	if [[ -n $KAM_PID ]]; then
		stop_pid "$KAM_PID" TERM
		wait "$KAM_PID" 2>/dev/null || true
	fi
	# the main process takes its children down; any left over are killed by pid
	for p in $KAM_KIDS; do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == kamailio ]] && kill -KILL "$p" 2>/dev/null || true
	done
	KAM_PID=
	KAM_KIDS=
}

cleanup() {
	local rc=$?
	stop_perf
	[[ -n $SIPP_PID ]] && stop_pid "$SIPP_PID" TERM
	[[ -n $UAS_PID ]] && stop_pid "$UAS_PID" TERM
	stop_kamailio
	# kept on failure for the logs (as register.sh does), not when interrupted
	if [[ $KEEP == 1 || ($rc -ne 0 && $rc -ne 130) ]]; then
		echo "work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


# kam_pids prints the main Kamailio process and all its children.
kam_pids() { echo "$KAM_PID"; pgrep -P "$KAM_PID" || true; }

# kam_ticks prints utime+stime summed over all Kamailio processes, and
# stime alone (ticks).
kam_ticks() {
	local p t=0 k=0 stat
	for p in $(kam_pids); do
		stat=$(<"/proc/$p/stat")
		stat=${stat##*) }
		# shellcheck disable=SC2086
		set -- $stat
		t=$((t + ${12} + ${13}))
		k=$((k + ${13}))
	done
	echo "$t $k"
}

# busy_ticks prints the whole machine's busy CPU time (all cores, clock
# ticks: /proc/stat user+nice+system+irq+softirq+steal), a rough sign of
# other work sharing the cores. On this VM it does not reconcile with the
# per-process counters (for Kamailio under load the processes' utime+stime
# can exceed it), so it is printed as an indicator only.
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# kam_ctxsw prints voluntary and involuntary context switches summed over
# all Kamailio processes: a worker that blocks in recvfrom and is woken for
# each datagram costs a switch (expensive on this VM), a busy one does not.
kam_ctxsw() {
	local p v=0 n=0
	for p in $(kam_pids); do
		read -r a b < <(awk '/^voluntary_ctxt_switches/ { v = $2 } /^nonvoluntary_ctxt_switches/ { n = $2 } END { print v, n }' "/proc/$p/status")
		v=$((v + a))
		n=$((n + b))
	done
	echo "$v $n"
}

start_perf() {
	[[ $PERF == 1 ]] || return 0
	command -v perf >/dev/null || die "PERF=1 but perf is not installed"
	perf record -q -F 499 -g -p "$(kam_pids | paste -sd,)" -o "$WORK/perf.data" >"$WORK/perf.log" 2>&1 &
	PERF_PID=$!
	sleep 0.5
}

stop_perf() {
	[[ -n $PERF_PID ]] || return 0
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=
}

report_perf() {
	[[ $PERF == 1 ]] || return 0
	perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
		grep -E '^ +[0-9]' | head -40 >"$WORK/perf-self.txt" || true
	perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | head -60 >"$WORK/perf-children.txt" || true
	echo "-- perf: top functions by own time ($WORK/perf-self.txt; inclusive: perf-children.txt)"
	head -30 "$WORK/perf-self.txt"
}

kamrpc() { kamcmd -s "unix:$WORK/kamailio_ctl" "$@"; }

echo "== $(kamailio -v | head -1)"
echo "== provision $USERS subscribers ($FIRST..) and $CALLEE in SQLite, HA1 stored (realm $DOMAIN)"
# Passwords as in register.sh and calls.sh: the number's digits spelled as
# letters (0->a ... 9->j). Injection files in the same format; BADPW=1 puts
# a wrong password in the callers' file (the subscriber table keeps the
# right HA1s; the callee 90000 keeps its right password).
python3 - "$FIRST" "$((FIRST + USERS - 1))" "$CALLEE" "$DOMAIN" "$BADPW" "$WORK" <<'PY'
import hashlib, sys
first, last, callee = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
domain, bad, work = sys.argv[4], sys.argv[5] == "1", sys.argv[6]
def pw(n):
    return "Bench-" + "".join("abcdefghij"[int(d)] for d in str(n)) + "-9Q"
def ha1(n):
    return hashlib.md5(f"{n}:{domain}:{pw(n)}".encode()).hexdigest()
def inf_line(n, wrong=False):
    p = pw(n) + ("-wrong" if wrong else "")
    return f"{n};{p};[authentication username={n} password={p}]\n"
with open(f"{work}/subscribers.sql", "w") as f:
    f.write("BEGIN;\n")
    for n in list(range(first, last + 1)) + [callee]:
        f.write(f"INSERT INTO subscriber (username, domain, password, ha1, ha1b) "
                f"VALUES ('{n}', '{domain}', '', '{ha1(n)}', '');\n")
    f.write("COMMIT;\n")
with open(f"{work}/users.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for n in range(first, last + 1):
        f.write(inf_line(n, bad))
with open(f"{work}/callee.csv", "w") as f:
    f.write("SEQUENTIAL\n" + inf_line(callee))
PY
DB=$WORK/kamailio.sqlite
SQL=/usr/share/kamailio/db_sqlite
# WAL, as Sentral's SQLite store: readers (auth_db in every worker) never
# wait for the usrloc write-back of DB_MODE=2. The mode persists in the file.
{ echo 'PRAGMA journal_mode=WAL;'; cat "$SQL/standard-create.sql" "$SQL/auth_db-create.sql" "$SQL/usrloc-create.sql" "$WORK/subscribers.sql"; } |
	sqlite3 "$DB" >/dev/null
[[ $(sqlite3 "$DB" 'SELECT count(*) FROM subscriber') == $((USERS + 1)) ]] || die "subscriber table incomplete"

SIP_PORT=$(free_port udp)
SIPP_PORT=$(free_port udp)
UAS_PORT=$(free_port udp)

echo "== start kamailio (udp:127.0.0.1:$SIP_PORT, $CHILDREN children, -m $SHM_MB -M $PKG_MB, -b $MAXBUFFER, memory manager ${MEMMGR:-default}, usrloc db_mode $DB_MODE)"
kamailio -f "$CFG" -DD -E -P "$WORK/kamailio.pid" -w "$WORK" \
	-l "udp:127.0.0.1:$SIP_PORT" -n "$CHILDREN" -m "$SHM_MB" -M "$PKG_MB" -b "$MAXBUFFER" ${MEMOPTS[@]+"${MEMOPTS[@]}"} \
	-A "DBURL=\"sqlite:///$DB\"" -A "CTLSOCK=\"unix:$WORK/kamailio_ctl\"" \
	-A "ULDBMODE=$DB_MODE" -A "ULTIMER=$([[ $DB_MODE == 2 ]] && echo 1 || echo 60)" \
	>"$WORK/kamailio.log" 2>&1 &
KAM_PID=$!
for i in $(seq 1 100); do
	kamrpc core.uptime >/dev/null 2>&1 && break
	kill -0 "$KAM_PID" 2>/dev/null || { tail -30 "$WORK/kamailio.log" >&2; die "kamailio exited"; }
	((i < 100)) || { tail -30 "$WORK/kamailio.log" >&2; die "no kamcmd answer within 10 s"; }
	sleep 0.1
done
KAM_KIDS=$(pgrep -P "$KAM_PID" | tr '\n' ' ')
NPROC=$(kam_pids | wc -l)
echo "kamailio pid $KAM_PID, $NPROC processes: $(kamrpc core.psx 2>/dev/null | awk '/DSC:/ { sub(/^[ \t]*DSC: */, ""); printf "%s%s", s, $0; s = " | " }')"
RCVBUF=$(ss -uamn "src 127.0.0.1:$SIP_PORT" 2>/dev/null | grep -o 'rb[0-9]*' | head -1 || true)
echo "receive buffer of the SIP socket: ${RCVBUF:-?} (ss -uam)"

TCK=$(getconf CLK_TCK)

# registered USER: is there a binding of USER in Kamailio's location table?
registered() { kamrpc ul.lookup location "s:$1" 2>/dev/null | grep -q 'Address'; }

if [[ $MODE == register ]]; then
	MEDIA_PORT=$(free_port udp)
	CTRL_PORT=$(free_port udp)
	sleep 0.5 # let start-up work settle before the CPU baseline
	CALLS=$((RATE * DURATION))
	echo "== sipp: $CALLS registrations at $RATE/s, at most $LIMIT in flight"
	start_perf
	udp_drops0=$(udp_drops)
	busy0=$(busy_ticks)
	read -r cpu0 sys0 < <(kam_ticks)
	read -r vcs0 ncs0 < <(kam_ctxsw)
	w0=$(date +%s.%N)
	set +e
	# exactly the sipp command of bench/register.sh
	(cd "$WORK" && exec timeout -k 5 $((DURATION * 3 + 60)) \
		/usr/bin/time -f '%U %S' -o "$WORK/sipp.time" \
		sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/bench/sipp/register.xml" -inf "$WORK/users.csv" \
		-key domain "$DOMAIN" -t u1 -i 127.0.0.1 -p "$SIPP_PORT" -mi 127.0.0.1 -mp "$MEDIA_PORT" -cp "$CTRL_PORT" \
		-buff_size 4194304 \
		-r "$RATE" -rp 1000 -m "$CALLS" -l "$LIMIT" \
		-timeout $((DURATION * 3 + 30))s -nostdin \
		-trace_stat -stf "$WORK/stat.csv" -fd 1 -trace_screen -trace_err \
		>"$WORK/sipp.out" 2>&1) &
	SIPP_PID=$!
	wait "$SIPP_PID"
	SIPP_RC=$?
	SIPP_PID=
	set -e
	w1=$(date +%s.%N)
	read -r cpu1 sys1 < <(kam_ticks)
	read -r vcs1 ncs1 < <(kam_ctxsw)
	busy1=$(busy_ticks)
	udp_drops1=$(udp_drops)
	stop_perf
	NPROC1=$(kam_pids | wc -l)
	bindings=$(kamrpc stats.get_statistics usrloc: 2>/dev/null | awk '/location_contacts/ { print $NF }')
	if [[ $DB_MODE == 2 ]]; then
		sleep 1.5 # the usrloc timer writes dirty bindings back every second
		bindings="$bindings (SQLite location table: $(sqlite3 "$DB" 'SELECT count(*) FROM location' 2>/dev/null || echo '?') rows)"
	fi
	shm=$(kamrpc core.shmmem m 2>/dev/null | awk '/used:|real_used:|max_used:/ { printf "%s %s MB ", $1, $2 }' || true)
	errlines=$(grep -c -E 'ERROR|CRITICAL|ALERT' "$WORK/kamailio.log" || true)
	stop_kamailio

	register_report "kamailio register, $CHILDREN children, $(nproc) CPUs, sipp on the same machine"
	printf '%-34s %.2f s (%s processes, %s after; %.0f %% of it in the kernel)\n' "kamailio CPU (all processes)" "$cpu" "$NPROC" "$NPROC1" "$(echo "($sys1 - $sys0) * 100 / ($cpu1 - $cpu0 + 0.001)" | bc -l)"
	if ((ok > 0)); then
		printf '%-34s %.4f s\n' "kamailio CPU per 1,000 REGISTERs" "$(echo "$cpu * 1000 / $ok" | bc -l)"
	fi
	printf '%-34s %.1f %%\n' "kamailio, % of one core" "$(echo "$cpu * 100 / $wall" | bc -l)"
	if ((ok > 0)); then
		printf '%-34s %.1f voluntary, %.1f involuntary\n' "kamailio context switches per REG" \
			"$(echo "($vcs1 - $vcs0) / $ok" | bc -l)" "$(echo "($ncs1 - $ncs0) / $ok" | bc -l)"
	fi
	printf '%-34s %.2f s (%.1f %% of one core)\n' "sipp CPU" "$sipp_cpu" "$(echo "$sipp_cpu * 100 / $wall" | bc -l)"
	printf '%-34s %.0f %% of %d cores (/proc/stat; a rough sign of other load)\n' "machine busy" \
		"$(echo "($busy1 - $busy0) * 100 / $TCK / $wall / $(nproc)" | bc -l)" "$(nproc)"
	printf '%-34s %s of %s\n' "bindings in usrloc afterwards" "$bindings" "$USERS"
	printf '%-34s %s\n' "kamailio shm (kamcmd core.shmmem)" "$shm"
	printf '%-34s %s\n' "kernel UDP receive-buffer drops" "$((udp_drops1 - udp_drops0)) (whole machine, /proc/net/snmp RcvbufErrors)"
	printf '%-34s %s\n' "kamailio log lines ERROR or worse" "$errlines"
	if ((failed > 0)) || [[ $SIPP_RC -ne 0 ]]; then
		echo "-- sipp failure counters: $(nonzero "$S" '^Failed')"
		echo "-- sipp errors (first lines):"
		cat "$WORK"/*errors.log 2>/dev/null | head -c 1200 || true
		echo
		echo "-- kamailio log (last lines):"
		tail -5 "$WORK/kamailio.log"
	fi
	report_perf
	exit 0
fi

# MODE=calls, as bench/calls.sh
echo "== register the callee $CALLEE from 127.0.0.1:$UAS_PORT"
mkdir -p "$WORK/reg"
# shellcheck disable=SC2046
(cd "$WORK/reg" && timeout -k 5 30 sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/bench/sipp/register.xml" \
	-inf "$WORK/callee.csv" -key domain "$DOMAIN" -p "$UAS_PORT" $(sipp_common) \
	-m 1 -timeout 15s -timeout_error -trace_err >"$WORK/reg/sipp.out" 2>&1) ||
	{ cat "$WORK"/reg/*errors.log >&2 2>/dev/null; die "registering the callee failed"; }
registered "$CALLEE" || { kamrpc ul.lookup location "s:$CALLEE" >&2 || true; die "no binding of $CALLEE"; }
kamrpc ul.lookup location "s:$CALLEE" | grep -m1 'Address' || true

CALLS=$((RATE * DURATION))
TIMEOUT=$((DURATION * 3 + 30))
start_uas

echo "== sipp UAC: $CALLS calls at $RATE/s, hold $HOLD ms, at most $LIMIT in flight"
mkdir -p "$WORK/uac"
UAC_COMMON=$(sipp_common) # before the baseline: it runs python for free ports
start_perf
udp_drops0=$(udp_drops)
busy0=$(busy_ticks)
read -r cpu0 sys0 < <(kam_ticks)
	read -r vcs0 ncs0 < <(kam_ctxsw)
uas0=$(cpu_ticks "$UAS_PID")
w0=$(date +%s.%N)
set +e
# exactly the sipp command of bench/calls.sh
# shellcheck disable=SC2086
(cd "$WORK/uac" && exec timeout -k 5 $((TIMEOUT + 30)) \
	/usr/bin/time -f '%U %S' -o "$WORK/uac/sipp.time" \
	sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/bench/sipp/uac_call.xml" -inf "$WORK/users.csv" \
	-s "$CALLEE" -key domain "$DOMAIN" -p "$SIPP_PORT" $UAC_COMMON \
	-d "$HOLD" -r "$RATE" -rp 1000 -m "$CALLS" -l "$LIMIT" \
	-timeout "${TIMEOUT}s" -trace_stat -stf "$WORK/uac/stat.csv" -fd 1 -trace_screen -trace_err \
	>"$WORK/uac/sipp.out" 2>&1) &
SIPP_PID=$!
wait "$SIPP_PID"
UAC_RC=$?
SIPP_PID=
set -e
w1=$(date +%s.%N)
read -r cpu1 sys1 < <(kam_ticks)
	read -r vcs1 ncs1 < <(kam_ctxsw)
uas1=$(cpu_ticks "$UAS_PID")
busy1=$(busy_ticks)
udp_drops1=$(udp_drops)
stop_perf
NPROC1=$(kam_pids | wc -l)
sleep 1
stop_pid "$UAS_PID" USR1
wait "$UAS_PID" 2>/dev/null || true
UAS_PID=
tm_stats=$(kamrpc tm.stats 2>/dev/null | awk '/current:|total:|created:|freed:/ { printf "%s %s ", $1, $2 }' || true)
shm=$(kamrpc core.shmmem m 2>/dev/null | awk '/used:|real_used:|max_used:/ { printf "%s %s MB ", $1, $2 }' || true)
errlines=$(grep -c -E 'ERROR|CRITICAL|ALERT' "$WORK/kamailio.log" || true)
stop_kamailio

calls_report "kamailio calls, $CHILDREN children, $(nproc) CPUs, sipp UAC and UAS on the same machine"
printf '%-36s %.2f s (%s processes, %s after; %.0f %% of it in the kernel)\n' "kamailio CPU (all processes)" "$cpu" "$NPROC" "$NPROC1" "$(echo "($sys1 - $sys0) * 100 / ($cpu1 - $cpu0 + 0.001)" | bc -l)"
if ((ok > 0)); then
	printf '%-36s %.4f s\n' "kamailio CPU per 1,000 calls" "$(echo "$cpu * 1000 / $ok" | bc -l)"
fi
printf '%-36s %.1f %%\n' "kamailio, % of one core" "$(echo "$cpu * 100 / $load" | bc -l)"
if ((ok > 0)); then
	printf '%-36s %.1f voluntary, %.1f involuntary\n' "kamailio context switches per call" \
		"$(echo "($vcs1 - $vcs0) / $ok" | bc -l)" "$(echo "($ncs1 - $ncs0) / $ok" | bc -l)"
fi
printf '%-36s %.2f s (%.1f %% of one core)\n' "sipp UAC CPU" "$uac_cpu" "$(echo "$uac_cpu * 100 / $load" | bc -l)"
printf '%-36s %.2f s (%.1f %% of one core)\n' "sipp UAS CPU" "$uas_cpu" "$(echo "$uas_cpu * 100 / $load" | bc -l)"
printf '%-36s %.0f %% of %d cores (/proc/stat; a rough sign of other load)\n' "machine busy" \
	"$(echo "($busy1 - $busy0) * 100 / $TCK / $wall / $(nproc)" | bc -l)" "$(nproc)"
printf '%-36s %s\n' "kernel UDP receive-buffer drops" "$((udp_drops1 - udp_drops0)) (whole machine, /proc/net/snmp RcvbufErrors)"
printf '%-36s %s\n' "kamailio tm.stats at the end" "$tm_stats"
printf '%-36s %s\n' "kamailio shm (kamcmd core.shmmem)" "$shm"
printf '%-36s %s\n' "kamailio log lines ERROR or worse" "$errlines"
if ((failed > 0 || uas_failed > 0)) || [[ $UAC_RC -ne 0 ]]; then
	echo "-- UAC failure counters: $(nonzero "$U" '^Failed')"
	echo "-- UAS failure counters: $(nonzero "$S" '^Failed')"
	echo "-- UAC sipp errors (first lines):"
	cat "$WORK"/uac/*errors.log 2>/dev/null | head -c 1500 || true
	echo
	echo "-- UAS sipp errors (first lines):"
	cat "$WORK"/uas/*errors.log 2>/dev/null | head -c 1500 || true
	echo
	echo "-- kamailio log (last lines):"
	tail -5 "$WORK/kamailio.log"
fi
report_perf
