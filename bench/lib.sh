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
