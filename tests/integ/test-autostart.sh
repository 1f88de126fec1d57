#!/bin/bash
# spawnctl run with no daemon: 16 at once all succeed and exactly one
# private daemon serves afterwards; --no-autostart refuses cleanly.
. "$(dirname "$0")/lib.sh"
setup
export SPAWND_SOCKET=$dir/spawnd/socket
export SPAWND_DAEMON=$SPAWND

# daemons: pids of spawnd processes serving $SPAWND_SOCKET.
daemons() {
	local p
	for p in /proc/[0-9]*; do
		[ "$p/exe" -ef "$SPAWND" ] 2>/dev/null || continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "$SPAWND_SOCKET" &&
		    echo "${p#/proc/}"
	done
}

# stop_daemons: SIGTERM to each daemon on $SPAWND_SOCKET, by pid.
stop_daemons() {
	local p
	for p in $(daemons); do
		kill -TERM "$p"
		wait_pid_gone "$p" 5 || fail "daemon $p did not stop"
	done
}

note "--no-autostart with no daemon fails cleanly"
"$SPAWNCTL" run --no-autostart -- true 2>"$dir/no.err"
assert_eq 125 $? "exit status"
assert_contains "$dir/no.err" "cannot reach spawnd" "message"
assert_eq "" "$(daemons)" "no daemon started"

note "16 spawnctl run at once, no daemon: all succeed, one daemon"
# Each waits for a byte from a FIFO that this shell keeps open: the 16
# bytes written at once let them all go together, rather than one every
# few milliseconds as they are forked.
mkfifo "$dir/go"
exec 3<>"$dir/go"
pids=()
for i in $(seq 16); do
	(exec 3>&- && read -r -n 1 _ <"$dir/go" &&
	    exec "$SPAWNCTL" run -- sh -c "exit $i") 2>>"$dir/start.err" &
	pids+=($!)
done
printf '%016d' 0 >&3
i=0
for p in "${pids[@]}"; do
	i=$((i + 1))
	wait "$p"
	assert_eq "$i" $? "spawnctl $i exit status"
done
exec 3>&-
found=$(daemons)
assert_eq 1 "$(echo "$found" | grep -c .)" "daemons serving the socket"
assert_eq 1 "$(grep -c 'started spawnd' "$dir/start.err")" \
    "'started spawnd' said once"
"$SPAWNCTL" run -- true
assert_eq 0 $? "a later run uses it"
stop_daemons

note "the daemon gets none of the caller's fds, nor its NOTIFY_SOCKET"
export SPAWND_SOCKET=$dir/fds/socket
exec 9>"$dir/writable"
NOTIFY_SOCKET=$dir/notify bash -c "trap '' CHLD; exec \"\$0\" \"\$@\"" \
    "$SPAWNCTL" run -- sh -c 'exit 5' 2>/dev/null
assert_eq 5 $? "exit status, caller ignoring SIGCHLD"
exec 9>&-
found=$(daemons)
assert_eq 1 "$(echo "$found" | grep -c .)" "daemons serving the socket"
for p in $found; do
	for f in "/proc/$p/fd/"*; do
		case $(readlink "$f") in
		"$dir/writable") fail "daemon holds the caller's fd ${f##*/}" ;;
		esac
	done
	assert_eq 0 "$(tr '\0' '\n' <"/proc/$p/environ" |
	    grep -c ^NOTIFY_SOCKET=)" "NOTIFY_SOCKET passed to the daemon"
done
stop_daemons

finish
