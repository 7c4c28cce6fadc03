# Shared helpers of the bench scripts; source it, do not run it.

# free_port NETWORK prints a port the kernel hands out on 127.0.0.1.
free_port() {
	python3 - "$1" <<'PY'
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

# cpu_ticks PID prints utime+stime of a process in clock ticks.
cpu_ticks() {
	local stat
	stat=$(<"/proc/$1/stat")
	stat=${stat##*) } # fields after "pid (comm) "; comm may hold spaces
	# shellcheck disable=SC2086
	set -- $stat
	echo $((${12} + ${13})) # fields 14 and 15 of the full line
}

# udp_drops prints the kernel's count of datagrams dropped for a full
# socket receive buffer (all sockets): each one costs sipp a retransmission.
udp_drops() { awk '/^Udp:/ { if (h) { print $(c); exit } for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 }' /proc/net/snmp; }

# sipp_stat FILE COLUMN prints the last row's value of a sipp -trace_stat
# column, by name ("?" if there is no such column).
sipp_stat() {
	awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
		{ v = $c } END { print (c ? v : "?") }' "$1"
}

# stat FILE COLUMN is sipp_stat, short for the reports.
stat() { sipp_stat "$@"; }

# nonzero FILE PATTERN prints "column=value" for the last row's non-zero
# cumulative columns whose name matches PATTERN.
nonzero() {
	awk -F';' -v pat="$2" 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; next } { line = $0 }
		END { n = split(line, v, ";"); for (i = 1; i <= n; i++)
			if (h[i] ~ pat && h[i] ~ /\(C\)$/ && v[i] + 0 != 0) printf "%s=%s ", h[i], v[i] }' "$1"
}

# dist FILE PREFIX prints a sipp repartition (upper bound in ms:count).
dist() {
	awk -F';' -v pre="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if (index($i, pre) == 1) c[i] = substr($i, length(pre) + 1); next }
		{ line = $0 } END { split(line, v, ";"); sep = ""
		for (i = 1; i <= NF; i++) if (i in c) { printf "%s%s:%s", sep, c[i], v[i]; sep = " " } }' "$1"
}

# calls_report TITLE reads the statistics of a calls run (UAC in
# $WORK/uac, UAS in $WORK/uas; times w0/w1, server CPU ticks cpu0/cpu1,
# UAS ticks uas0/uas1) into ok, failed, retrans, uas_ok, ..., wall, cpu,
# uac_cpu, uas_cpu, and prints the rows every calls benchmark shares.
calls_report() {
	for f in "$WORK/uac/stat.csv" "$WORK/uas/stat.csv"; do
		[[ -s $f ]] || { tail -30 "$WORK/uac/sipp.out" >&2; die "sipp wrote no statistics to $f (UAC exit $UAC_RC)"; }
	done
	U=$WORK/uac/stat.csv
	S=$WORK/uas/stat.csv
	ok=$(stat "$U" 'SuccessfulCall(C)')
	failed=$(stat "$U" 'FailedCall(C)')
	retrans=$(stat "$U" 'Retransmissions(C)')
	uas_ok=$(stat "$S" 'SuccessfulCall(C)')
	uas_failed=$(stat "$S" 'FailedCall(C)')
	uas_retrans=$(stat "$S" 'Retransmissions(C)')
	elapsed=$(stat "$U" 'ElapsedTime(C)')
	callrate=$(stat "$U" 'CallRate(C)')
	calllen=$(stat "$U" 'CallLength(C)')
	setup=$(stat "$U" 'ResponseTimesetup(C)')
	teardown=$(stat "$U" 'ResponseTimeteardown(C)')
	read -r su ss < <(tail -n 1 "$WORK/uac/sipp.time") || true
	# From sipp's per-second rows (StartTime and CurrentTime end in epoch
	# seconds): the load interval, first call to the last statistics row, and
	# the creation rate over the last full row before all calls were created.
	read -r load achieved < <(awk -F';' -v calls="$CALLS" '
		function epoch(f,    a) { split(f, a, "\t"); return a[3] + 0 }
		NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "StartTime") st = i; if ($i == "CurrentTime") ct = i
			if ($i == "OutgoingCall(C)") oc = i }; next }
		{ s = epoch($st); c = epoch($ct); if ($oc + 0 < calls && c > s) r = $oc / (c - s); last = c
		  if ($oc + 0 >= calls && !done) { done = 1; if (c > s && !r) r = $oc / (c - s) } }
		END { printf "%.3f %.0f\n", last - s, r }' "$U")

	wall=$(echo "$w1 - $w0" | bc -l)
	cpu=$(echo "($cpu1 - $cpu0) / $TCK" | bc -l)
	uac_cpu=$(echo "${su:-0} + ${ss:-0}" | bc -l)
	uas_cpu=$(echo "($uas1 - $uas0) / $TCK" | bc -l)
	echo
	echo "== results ($1)"
	printf '%-36s %s\n' "offered rate (calls/s)" "$RATE"
	printf '%-36s %s\n' "calls attempted" "$CALLS"
	printf '%-36s %s\n' "successful (UAC)" "$ok"
	printf '%-36s %s\n' "failed (UAC)" "$failed"
	printf '%-36s %s\n' "answered and hung up (UAS)" "$uas_ok (failed $uas_failed)"
	printf '%-36s %s\n' "retransmissions UAC / UAS" "$retrans / $uas_retrans"
	printf '%-36s %s\n' "sipp UAC exit code" "$UAC_RC"
	printf '%-36s %s\n' "sipp elapsed" "$elapsed"
	printf '%-36s %.2f s\n' "wall time of the UAC run" "$wall"
	printf '%-36s %s s (first call to end of the last)\n' "load interval (sipp)" "$load"
	printf '%-36s %s\n' "achieved call rate (created/s)" "$achieved"
	printf '%-36s %s\n' "sipp CallRate(C) (calls/elapsed)" "$callrate"
	printf '%-36s %s\n' "set-up time, mean (INVITE..200)" "$setup"
	printf '%-36s %s\n' "tear-down time, mean (BYE..200)" "$teardown"
	printf '%-36s %s\n' "call length, mean (hold $HOLD ms)" "$calllen"
	printf '%-36s %s\n' "set-up time by ms (sipp)" "$(dist "$U" 'ResponseTimeRepartitionsetup_')"
	printf '%-36s %s\n' "call length by ms (sipp)" "$(dist "$U" 'CallLengthRepartition_')"
}

# register_report TITLE reads the statistics of a REGISTER run ($WORK/
# stat.csv and sipp.time; times w0/w1, server CPU ticks cpu0/cpu1) into
# ok, failed, retrans, elapsed, calllen, wall, cpu and sipp_cpu, and prints
# the rows every REGISTER benchmark shares.
register_report() {
	[[ -s $WORK/stat.csv ]] || { tail -30 "$WORK/sipp.out" >&2; die "sipp wrote no statistics (exit $SIPP_RC)"; }
	S=$WORK/stat.csv
	ok=$(stat "$S" 'SuccessfulCall(C)')
	failed=$(stat "$S" 'FailedCall(C)')
	retrans=$(stat "$S" 'Retransmissions(C)')
	elapsed=$(stat "$S" 'ElapsedTime(C)')
	calllen=$(stat "$S" 'CallLength(C)')
	read -r su ss < <(tail -n 1 "$WORK/sipp.time") || true
	wall=$(echo "$w1 - $w0" | bc -l)
	cpu=$(echo "($cpu1 - $cpu0) / $TCK" | bc -l)
	sipp_cpu=$(echo "${su:-0} + ${ss:-0}" | bc -l)
	echo
	echo "== results ($1)"
	printf '%-34s %s\n' "offered rate (REGISTER calls/s)" "$RATE"
	printf '%-34s %s\n' "calls attempted" "$CALLS"
	printf '%-34s %s\n' "successful" "$ok"
	printf '%-34s %s\n' "failed" "$failed"
	printf '%-34s %s\n' "retransmissions (sipp)" "$retrans"
	printf '%-34s %s\n' "sipp exit code" "$SIPP_RC"
	printf '%-34s %s\n' "sipp elapsed" "$elapsed"
	printf '%-34s %.2f s\n' "wall time of the sipp run" "$wall"
	printf '%-34s %.0f\n' "achieved rate (successful/s)" "$(echo "$ok / $wall" | bc -l)"
	printf '%-34s %s\n' "mean call time (both round trips)" "$calllen"
	printf '%-34s %s\n' "calls by duration in ms (sipp)" "$(dist "$S" 'CallLengthRepartition_')"
}

# sipp_common prints the sipp options every call benchmark shares: UDP on
# loopback, free media and control ports, a 4 MiB socket buffer.
sipp_common() { echo -t u1 -i 127.0.0.1 -mi 127.0.0.1 -mp "$(free_port udp)" -cp "$(free_port udp)" -buff_size 4194304 -nostdin; }

# start_uas starts the callee's sipp UAS (bench/sipp/uas_answer.xml) on
# UAS_PORT in $WORK/uas, directly (not under time/timeout) so its CPU can
# be read from /proc; no -m: it answers until stopped after the UAC run,
# -timeout (TIMEOUT + 30 s) bounds it and the caller's cleanup stops it.
# It sets UAS_PID.
start_uas() {
	echo "== sipp UAS (callee) on 127.0.0.1:$UAS_PORT"
	mkdir -p "$WORK/uas"
	# shellcheck disable=SC2046
	(cd "$WORK/uas" && exec sipp -sf "$ROOT/bench/sipp/uas_answer.xml" -p "$UAS_PORT" $(sipp_common) \
		-timeout "$((TIMEOUT + 30))s" -trace_stat -stf "$WORK/uas/stat.csv" -fd 1 -trace_err \
		>"$WORK/uas/sipp.out" 2>&1) &
	UAS_PID=$!
	sleep 0.5
	kill -0 "$UAS_PID" 2>/dev/null || { tail -20 "$WORK/uas/sipp.out" >&2; die "sipp UAS exited"; }
	sleep 0.5 # let start-up work settle before the CPU baseline
}

# start_server GUARD starts `sentral serve` ($BIN, store $SENTRAL_DB) on the
# free ports SIP_PORT and ADMIN_PORT, with MD5 challenges first (sipp 3.6
# knows no SHA-256) and the per-source guard raised to GUARD requests/s
# (all load comes from 127.0.0.1), and waits for /healthz. It sets
# SERVER_PID; the caller's cleanup stops it.
start_server() {
	local guard=$1 i
	echo "== start sentral serve (sip udp:127.0.0.1:$SIP_PORT, admin 127.0.0.1:$ADMIN_PORT, log level $LOG_LEVEL)"
	SENTRAL_SIP_REGISTRAR_DIGEST_ALGORITHMS=MD5,SHA-256 \
	SENTRAL_SIP_GUARD_RATE=$guard SENTRAL_SIP_GUARD_BURST=$guard \
	SENTRAL_LOG_FORMAT=json SENTRAL_LOG_LEVEL=$LOG_LEVEL \
		"$BIN" serve --sip-listen "udp:127.0.0.1:$SIP_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" --phones-listen "" --console-listen "" \
		>"$WORK/server.log" 2>&1 &
	SERVER_PID=$!
	for i in $(seq 1 100); do
		curl -fs "http://127.0.0.1:$ADMIN_PORT/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; die "sentral serve exited"; }
		sleep 0.1
	done
	tail -20 "$WORK/server.log" >&2
	die "no /healthz within 10 s"
}
