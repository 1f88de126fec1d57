#!/bin/bash
# Socket set-up by hand: racing daemons, stale and live sockets, directory
# checks, removal at exit; a bad option refused before the socket exists.
. "$(dirname "$0")/lib.sh"
setup

# count_alive PID...: how many of the PIDs still run.
count_alive() {
	local p n=0
	for p in "$@"; do
		pid_alive "$p" && n=$((n + 1))
	done
	echo "$n"
}

note "parent directory created 0700"
sock=$dir/sub/socket
start_daemon
assert_eq 700 "$(stat -c %a "$dir/sub")" "mode of the created directory"
assert_eq 600 "$(stat -c %a "$sock")" "mode of the socket"
stop_daemon
[ -e "$sock" ] && fail "socket left behind after SIGTERM"

note "two daemons started at once: exactly one serves"
for round in 1 2 3 4 5 6 7 8; do
	rm -f "$dir"/race.*.log
	"$SPAWND" --socket "$sock" </dev/null >"$dir/race.a.log" 2>&1 &
	a=$!
	"$SPAWND" --socket "$sock" </dev/null >"$dir/race.b.log" 2>&1 &
	b=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(count_alive $a $b)" = 1 ] && ping_daemon && break
		sleep 0.05
	done
	assert_eq 1 "$(count_alive $a $b)" "round $round: live daemons"
	ping_daemon || fail "round $round: nobody serves"
	if pid_alive $a; then winner=$a loser=$b log=b; else
		winner=$b loser=$a log=a; fi
	wait $loser
	assert_eq 1 $? "round $round: exit status of the loser"
	assert_contains "$dir/race.$log.log" "another spawnd is already serving" \
	    "round $round: the loser's message"
	kill -TERM $winner
	wait $winner
	assert_eq 0 $? "round $round: exit status of the winner"
done

note "a stale socket (daemon killed) is replaced"
start_daemon
kill -KILL "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=
[ -S "$sock" ] || fail "the killed daemon's socket should still be there"
start_daemon
assert_contains "$dir/spawnd.log" "removed stale socket" "stale socket log"
stop_daemon

note "a live socket of another server is never removed"
if command -v systemd-socket-activate >/dev/null; then
	systemd-socket-activate -l "$sock" --seqpacket /bin/true \
	    >"$dir/ssa.log" 2>&1 &
	ssa=$!
	for ((i = 0; i < 100; i++)); do [ -S "$sock" ] && break; sleep 0.05; done
	ino=$(stat -c %i "$sock")
	"$SPAWND" --socket "$sock" </dev/null >"$dir/live.log" 2>&1
	assert_eq 1 $? "exit status next to a live socket"
	assert_contains "$dir/live.log" "live socket" "message"
	assert_eq "$ino" "$(stat -c %i "$sock" 2>/dev/null)" "socket untouched"
	kill $ssa 2>/dev/null
	wait $ssa 2>/dev/null
	rm -f "$sock"
else
	note "(no systemd-socket-activate: live-socket case skipped)"
fi

note "a non-socket at the path is refused and left alone"
echo keep >"$sock"
"$SPAWND" --socket "$sock" </dev/null >"$dir/file.log" 2>&1
assert_eq 1 $? "exit status on a regular file"
assert_contains "$dir/file.log" "not a socket" "message"
assert_eq keep "$(cat "$sock")" "file content"
rm -f "$sock"

note "a directory writable by others is refused"
mkdir -m 0777 "$dir/open"
chmod 0777 "$dir/open"
"$SPAWND" --socket "$dir/open/socket" </dev/null >"$dir/open.log" 2>&1
assert_eq 1 $? "exit status in a world-writable directory"
assert_contains "$dir/open.log" "writable by group or others" "message"
[ -e "$dir/open/socket" ] && fail "socket created in a world-writable dir"

note "a symbolic link as the directory is refused"
mkdir -m 0700 "$dir/real"
ln -s "$dir/real" "$dir/link"
"$SPAWND" --socket "$dir/link/socket" </dev/null >"$dir/link.log" 2>&1
assert_eq 1 $? "exit status through a symlinked directory"
assert_contains "$dir/link.log" "not a directory" "message"

note "--launch takes auto, vfork or async, and nothing else"
"$SPAWND" --socket "$dir/launch" --launch sometimes </dev/null \
    >"$dir/launch.log" 2>&1
assert_eq 1 $? "exit status for an unknown --launch mode"
assert_contains "$dir/launch.log" "expected auto, vfork or async" "message"
[ -e "$dir/launch" ] && fail "socket bound despite a bad --launch"

finish
