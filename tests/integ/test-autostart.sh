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
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$(readlink -f "$SPAWND")" ] ||
		    continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "$SPAWND_SOCKET" &&
		    echo "${p#/proc/}"
	done
}

note "--no-autostart with no daemon fails cleanly"
"$SPAWNCTL" run --no-autostart -- true 2>"$dir/no.err"
assert_eq 125 $? "exit status"
assert_contains "$dir/no.err" "cannot reach spawnd" "message"
assert_eq "" "$(daemons)" "no daemon started"

note "16 spawnctl run at once, no daemon: all succeed, one daemon"
pids=()
for i in $(seq 16); do
	"$SPAWNCTL" run -- sh -c "exit $i" 2>>"$dir/start.err" &
	pids+=($!)
done
i=0
for p in "${pids[@]}"; do
	i=$((i + 1))
	wait "$p"
	assert_eq "$i" $? "spawnctl $i exit status"
done
found=$(daemons)
assert_eq 1 "$(echo "$found" | grep -c .)" "daemons serving the socket"
assert_eq 1 "$(grep -c 'started spawnd' "$dir/start.err")" \
    "'started spawnd' said once"
"$SPAWNCTL" run -- true
assert_eq 0 $? "a later run uses it"
for p in $found; do
	kill -TERM "$p"
	wait_pid_gone "$p" 5 || fail "daemon $p did not stop"
done

finish
