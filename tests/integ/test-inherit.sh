#!/bin/bash
# What the daemon inherits (issue 12, item 6): started by hand with extra
# fds (a shell's "exec 7>>file") and stdout/stderr on a regular file, it
# keeps none of them: every fd but stdio and systemd's sockets is closed,
# stdin is /dev/null, and no fd is a regular file open for writing (the
# log file goes to a logger process, which copies a pipe into it).  The
# file held by fd 7 runs without ETXTBSY, and the log lines still reach
# the file.
. "$(dirname "$0")/lib.sh"
setup

# regular_writable PID: "FD TARGET FLAGS" for each fd of PID that is a
# regular file open for writing.
regular_writable() {
	local f n t flags
	for f in "/proc/$1/fd/"*; do
		n=${f##*/}
		t=$(readlink "$f") || continue
		[ -f "$f" ] || continue
		case $t in /*) ;; *) continue ;; esac
		flags=$(awk '/^flags:/ { print $2 }' "/proc/$1/fdinfo/$n" \
		    2>/dev/null) || continue
		[ -n "$flags" ] || continue
		if (( (8#$flags & 3) != 0 )); then
			echo "$n $t $flags"
		fi
	done
}

# holders FILE: pids among the daemon, and the processes named spawnd or
# spawnd-log, that have FILE open.
holders() {
	local c f p name
	for c in /proc/[0-9]*/comm; do
		p=${c#/proc/}
		p=${p%/comm}
		read -r name 2>/dev/null <"$c" || continue
		case $name in
		spawnd|spawnd-log) ;;
		*) [ "$p" = "$daemon_pid" ] || continue ;;
		esac
		for f in "/proc/$p/fd/"*; do
			if [ "$f" -ef "$1" ]; then
				echo "$p"
				break
			fi
		done
	done
}

exe=$dir/prog
printf '#!/bin/sh\necho ran\n' >"$exe"
chmod 755 "$exe"
: >"$dir/data"
log=$dir/out.log

note "started with 7>>prog 8<data 9<&0, stdout and stderr on out.log"
"$SPAWND" --socket "$sock" 7>>"$exe" 8<"$dir/data" 9<&0 \
    <"$dir/data" >"$log" 2>&1 &
daemon_pid=$!
wait_ready "$daemon_pid" || { cat "$log" >&2; fail "daemon not ready"; finish; }
export SPAWND_SOCKET=$sock

for f in "$exe" "$dir/data"; do
	[ -z "$(holders "$f")" ] || fail "$f inherited by the daemon"
done
assert_eq /dev/null "$(readlink "/proc/$daemon_pid/fd/0")" "stdin"
bad=$(regular_writable "$daemon_pid")
assert_eq "" "$bad" "regular files open for writing in the daemon"
for n in 1 2; do
	t=$(readlink "/proc/$daemon_pid/fd/$n")
	case $t in
	pipe:*) ;;
	*) fail "fd $n is $t, not the logger's pipe" ;;
	esac
done
out=$("$exe" 2>&1)
assert_eq ran "$out" "the file fd 7 was on runs (no ETXTBSY)"

note "the log lines reach out.log through the logger"
for ((i = 0; i < 100; i++)); do
	grep -q "serving" "$log" && break
	sleep 0.05
done
assert_contains "$log" "serving" "start-up line in the log file"
logger=$(holders "$log")
[ -n "$logger" ] || fail "nobody holds out.log: where do the logs go?"
for p in $logger; do
	[ "$p" = "$daemon_pid" ] && fail "the daemon itself holds out.log"
	assert_eq spawnd-log "$(cat "/proc/$p/comm")" "comm of pid $p"
done

note "the daemon's children see none of it either"
out=$("$SPAWNCTL" run -- /bin/sh -c 'ls /proc/self/fd | tr "\n" " "' \
    </dev/null 2>&1)
assert_eq "0 1 2 3 " "$out" "a child's fds (3: ls's directory)"

stop_daemon
note "the logger ends with the daemon, the last lines written"
for ((i = 0; i < 100; i++)); do
	[ -z "$(holders "$log")" ] && break
	sleep 0.05
done
assert_eq "" "$(holders "$log")" "processes still holding out.log"
assert_contains "$log" "stopping" "last line in the log file"
finish
