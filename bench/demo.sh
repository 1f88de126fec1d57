#!/bin/bash
#
# demo.sh: `make demo`.  The multithreaded write-then-exec workload with
# fork+exec, glibc's posix_spawn, and spawnd's two faces, side by side.
#
#	B=/abs/build/dir bench/demo.sh [etxtbsy options]
#
# Default: -t 20 -r 200 -T 12: 20 threads x 200 rounds per mode, but no
# mode runs longer than 12 s (a slow or busy machine runs fewer rounds;
# the table shows how many), so the demo stays under a minute.
#
# Builds nothing (make did); starts a private spawnd on a socket in a
# temporary directory (no systemd needed) and stops it at the end.

set -u

srcdir=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$srcdir/build}
spawnd=$B/spawnd
etxtbsy=$B/bench/etxtbsy

for f in "$spawnd" "$etxtbsy"; do
	if [ ! -x "$f" ]; then
		echo "demo: $f is missing; run 'make demo'" >&2
		exit 1
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/spawnd-demo.XXXXXX") || exit 1
sock=$dir/socket
daemon_pid=

cleanup() {
	if [ -n "$daemon_pid" ]; then
		kill -TERM "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$spawnd" --socket "$sock" </dev/null 2>"$dir/spawnd.log" &
daemon_pid=$!
for ((i = 0; i < 100; i++)); do
	[ -S "$sock" ] && break
	kill -0 "$daemon_pid" 2>/dev/null || break
	sleep 0.05
done
if [ ! -S "$sock" ]; then
	echo "demo: spawnd did not start:" >&2
	cat "$dir/spawnd.log" >&2
	exit 1
fi

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-t 20 -r 200 -T 12)
echo "Workload: etxtbsy ${args[*]}"
echo "(-t threads, -r rounds each, -T at most seconds per mode): each thread"
echo "writes its own script (O_CLOEXEC), closes it, spawns it and waits."
echo

mkdir "$dir/work"
out=$dir/results
: >"$out"
for mode in fork posix_spawn spawnd spawnd-posix; do
	printf '  running %-16s' "$mode..." >&2
	"$etxtbsy" "${args[@]}" -m "$mode" -s "$sock" -d "$dir/work" \
	    >>"$out" 2>"$dir/$mode.err"
	echo " done" >&2
	if [ -s "$dir/$mode.err" ]; then
		sed 's/^/    /' "$dir/$mode.err" >&2
	fi
done

# Lines: MODE ok=N etxtbsy=N errors=N seconds=S rate=R
awk '
function val(s) { sub(/^[a-z]+=/, "", s); return s }
{
	mode[NR] = $1; ok[NR] = val($2); etx[NR] = val($3)
	err[NR] = val($4); rate[NR] = val($6)
	if ($1 == "posix_spawn") base = rate[NR]
}
END {
	line = "+--------------+--------+---------+--------+----------+-------------------+"
	print line
	printf "| %-12s | %6s | %7s | %6s | %8s | %-17s |\n", "mode", "ok", \
	    "ETXTBSY", "errors", "spawns/s", "vs posix_spawn"
	print line
	for (i = 1; i <= NR; i++) {
		r = base > 0 ? sprintf("%.2fx", rate[i] / base) : "-"
		printf "| %-12s | %6d | %7d | %6d | %8.0f | %-17s |\n", \
		    mode[i], ok[i], etx[i], err[i], rate[i], r
	}
	print line
}' "$out"

echo
bad=$(awk '$1 ~ /^spawnd/ { split($3, a, "="); split($4, b, "=");
    n += a[2] + b[2] } END { print n + 0 }' "$out")
forkbusy=$(awk '$1 == "fork" { split($3, a, "="); print a[2] + 0 }' "$out")
if [ "$bad" = 0 ]; then
	echo "spawnd: no ETXTBSY and no errors; fork+exec: $forkbusy ETXTBSY."
else
	echo "spawnd: $bad ETXTBSY or errors: that is a bug."
fi

kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
daemon_pid=
if [ "$rc" != 0 ]; then
	echo "demo: spawnd exited with status $rc" >&2
	cat "$dir/spawnd.log" >&2
	exit 1
fi
[ "$bad" = 0 ]
