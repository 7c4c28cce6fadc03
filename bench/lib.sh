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
		"$BIN" serve --sip-listen "udp:127.0.0.1:$SIP_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" --phones-listen "" \
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
