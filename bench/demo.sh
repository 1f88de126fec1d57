#!/bin/bash
#
# demo.sh: `make demo`.  The multithreaded write-then-exec workload with
# fork+exec, glibc's posix_spawn, and spawnd's two faces, side by side.
#
#	B=/abs/build/dir bench/demo.sh [etxtbsy options]
#
# Default: 20 threads x 200 rounds per mode.  The native modes (fork,
# posix_spawn) go on past 200 rounds until they have shown an ETXTBSY
# (-U 1), and the spawnd modes then run as many spawns as the native ones
# needed; each mode stops after 45 s (-T 45) whatever is left.  Most
# machines show the race within the 200 rounds (about a minute in all);
# where the native modes never show it within their 45 s the demo says
# so.  With arguments, every mode runs with exactly those.
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

mkdir "$dir/work"
out=$dir/results
: >"$out"
# run_modes ARGS... -- MODES...: one etxtbsy run per mode, lines to $out.
run_modes() {
	local a=() mode
	while [ "$1" != -- ]; do
		a+=("$1")
		shift
	done
	shift
	for mode in "$@"; do
		printf '  running %-16s' "$mode..." >&2
		"$etxtbsy" "${a[@]}" -m "$mode" -s "$sock" -d "$dir/work" \
		    >>"$out" 2>"$dir/$mode.err"
		echo " done" >&2
		if [ -s "$dir/$mode.err" ]; then
			sed 's/^/    /' "$dir/$mode.err" >&2
		fi
	done
}

echo "Each thread writes its own script (O_CLOEXEC), closes it, spawns it"
echo "and waits; a child forked meanwhile by another thread holds the script"
echo "open for writing until it execs: ETXTBSY."
if [ $# -gt 0 ]; then
	echo "Workload: etxtbsy $*"
	echo
	run_modes "$@" -- fork posix_spawn spawnd spawnd-posix
else
	echo "Workload: 20 threads x 200 rounds; fork and posix_spawn go on until"
	echo "they have shown ETXTBSY (at most 45 s each), spawnd then runs as"
	echo "many spawns."
	echo
	run_modes -t 20 -r 200 -U 1 -T 45 -- fork posix_spawn
	rounds=$(awk '{ for (i = 2; i <= 4; i++) { split($i, a, "=");
	    n[NR] += a[2] } } END { m = 0; for (k in n) if (n[k] > m) m = n[k];
	    r = int((m + 19) / 20); print (r > 200 ? r : 200) }' "$out")
	run_modes -t 20 -r "$rounds" -T 45 -- spawnd spawnd-posix
fi

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
# native: "N ETXTBSY in M spawns" of fork and posix_spawn together.
native=$(awk '$1 == "fork" || $1 == "posix_spawn" { for (i = 2; i <= 4; i++)
    { split($i, a, "="); n += a[2]; if (i == 3) e += a[2] };
    split($5, s, "="); t += s[2] }
    END { printf "%d %d %.0f", e, n, t }' "$out")
read -r nbusy nspawns nsecs <<<"$native"
if [ "$bad" != 0 ]; then
	echo "spawnd: $bad ETXTBSY or errors: that is a bug."
elif [ "$nbusy" -gt 0 ]; then
	echo "spawnd: no ETXTBSY and no errors; fork+exec and posix_spawn:" \
	    "$nbusy ETXTBSY in $nspawns spawns."
else
	echo "spawnd: no ETXTBSY and no errors.  fork+exec and posix_spawn did"
	echo "not show ETXTBSY either: $nspawns spawns in ${nsecs} s on this"
	echo "machine.  The race needs a fork while another thread's script is"
	echo "open for writing; it is rarer with few CPUs or a fast machine, and"
	echo "more load (more threads: bench/demo.sh -t 64 -r 2000 -T 120) makes"
	echo "it likelier.  spawnd cannot hit it: its daemon holds no writable fd."
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
