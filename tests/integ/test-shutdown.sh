#!/bin/bash
# SIGTERM to the daemon: tied children get SIGTERM and their grace period
# (SIGKILL after it), the daemon waits for them, detached children are left
# alone; a second SIGTERM exits at once.
. "$(dirname "$0")/lib.sh"
setup

# wait_file FILE: wait (30 s) until FILE is not empty.
wait_file() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# stops: how many SIGTERMs the daemons of this test have logged.
stops() {
	grep -c ', stopping' "$dir/spawnd.log"
}

start_daemon
note "a tied child's SIGTERM handler runs before the daemon exits"
"$SPAWNCTL" run -- sh -c "echo \$\$ > $dir/t.pid; trap 'echo term > $dir/t.mark; exit 0' TERM; while :; do sleep 0.05; done" \
    >/dev/null 2>&1 &
ctl1=$!
"$SPAWNCTL" run --detach -- sh -c "echo \$\$ > $dir/d.pid; exec sleep 30" \
    >/dev/null 2>&1
wait_file "$dir/t.pid" || fail "tied child did not start"
wait_file "$dir/d.pid" || fail "detached child did not start"
kill -TERM "$daemon_pid"
wait_pid_gone "$daemon_pid" 10 || fail "daemon did not exit"
wait "$daemon_pid"
assert_eq 0 $? "daemon exit status"
daemon_pid=
assert_eq term "$(cat "$dir/t.mark" 2>/dev/null)" "tied child saw SIGTERM"
pid_alive "$(cat "$dir/t.pid")" && fail "tied child still running"
dpid=$(cat "$dir/d.pid")
pid_alive "$dpid" || fail "detached child was stopped"
kill -KILL "$dpid" 2>/dev/null
wait "$ctl1" 2>/dev/null

note "a tied child ignoring SIGTERM gets SIGKILL after the grace period"
start_daemon
"$SPAWNCTL" run -- sh -c "trap '' TERM; echo \$\$ > $dir/i.pid; while :; do sleep 0.05; done" \
    >/dev/null 2>&1 &
ctl2=$!
wait_file "$dir/i.pid" || fail "child did not start"
ipid=$(cat "$dir/i.pid")
start=$SECONDS
kill -TERM "$daemon_pid"
wait_pid_gone "$daemon_pid" 15 || fail "daemon did not exit"
daemon_pid=
took=$((SECONDS - start))
pid_alive "$ipid" && fail "child ignoring SIGTERM survived the daemon"
[ "$took" -ge 4 ] || fail "daemon exited after $took s, before the grace period"
wait "$ctl2" 2>/dev/null

note "a second SIGTERM exits at once"
start_daemon
"$SPAWNCTL" run -- sh -c "trap '' TERM; echo \$\$ > $dir/j.pid; while :; do sleep 0.05; done" \
    >/dev/null 2>&1 &
ctl3=$!
wait_file "$dir/j.pid" || fail "child did not start"
n=$(stops)
kill -TERM "$daemon_pid"
# The second SIGTERM must come after the daemon took the first.
for ((i = 0; i < 600; i++)); do
	[ "$(stops)" -gt "$n" ] && break
	sleep 0.05
done
assert_eq $((n + 1)) "$(stops)" "the first SIGTERM logged"
kill -TERM "$daemon_pid"
wait_pid_gone "$daemon_pid" 2 || fail "second SIGTERM did not stop the daemon"
daemon_pid=
# PR_SET_PDEATHSIG: the tied child gets SIGTERM, which it ignores; end it.
kill -KILL "$(cat "$dir/j.pid")" 2>/dev/null
wait "$ctl3" 2>/dev/null

finish
