#!/bin/bash
# spawnctl ps, kill and wait: the daemon's children by pid, resolved in
# its table and signalled through pidfds.
. "$(dirname "$0")/lib.sh"
setup
start_daemon

note "ps lists a running child with its argv"
# The child is the sleep itself (exec): a TERM to a shell that runs sleep
# as its own child would leave the sleep behind.
"$SPAWNCTL" run -- sh -c 'exec sleep 30' >/dev/null 2>&1 &
ctl=$!
for ((i = 0; i < 600; i++)); do
	out=$("$SPAWNCTL" ps)
	case $out in *"exec sleep 30"*) break ;; esac
	sleep 0.05
done
assert_contains "$out" "sh -c exec sleep 30" "ps output"
assert_contains "$out" "running" "ps state"
pid=$(echo "$out" | awk '/sleep 30/ { print $1 }')
assert_ne "" "$pid" "pid from ps"

note "ps --json is JSON"
json=$("$SPAWNCTL" ps --json)
if command -v python3 >/dev/null; then
	echo "$json" | python3 -c 'import json,sys; l=json.load(sys.stdin); assert l[0]["pid"] > 0' ||
	    fail "ps --json does not parse: $json"
fi
assert_contains "$json" "\"pid\":$pid" "json pid"

note "wait PID, from another connection, gets the exit status"
"$SPAWNCTL" wait "$pid" &
waiter=$!
sleep 0.2

note "kill -s TERM PID ends it"
"$SPAWNCTL" kill -s TERM "$pid"
assert_eq 0 $? "kill exit status"
wait $ctl
assert_eq 143 $? "spawnctl run of the killed child"
wait $waiter
assert_eq 143 $? "spawnctl wait of the killed child"
assert_eq "" "$("$SPAWNCTL" ps | awk 'NR > 1')" "ps after the child is gone"

note "kill and wait of a pid that is not the daemon's child"
sleep 30 &
other=$!
"$SPAWNCTL" kill "$other" 2>"$dir/kill.err"
assert_eq 1 $? "kill of a foreign pid"
assert_contains "$dir/kill.err" "No such process" "kill error"
pid_alive "$other" || fail "a foreign process was signalled"
"$SPAWNCTL" wait "$other" 2>/dev/null
assert_eq 1 $? "wait of a foreign pid"
kill "$other"
wait "$other" 2>/dev/null

note "ps escapes control characters in argv (terminal escapes)"
# sh's $0 carries the escapes; exec leaves one process to kill.
evil=$'\e]0;owned\a\e[2J\x9b\xc2\x9b1m\\ok \xc3\xa9'
"$SPAWNCTL" run --detach -- sh -c 'exec sleep 30' "$evil" >"$dir/e.pid"
epid=$(cat "$dir/e.pid")
"$SPAWNCTL" ps >"$dir/ps.out"
assert_eq 0 "$(tr -d '\n' <"$dir/ps.out" | LC_ALL=C grep -c $'[\x01-\x1f\x7f]')" \
    "control characters in ps output"
assert_contains "$dir/ps.out" \
    'exec sleep 30 \x1b]0;owned\x07\x1b[2J\x9b\xc2\x9b1m\\ok '$'\xc3\xa9' \
    "escaped argv"
"$SPAWNCTL" ps --json >"$dir/ps.json"
assert_contains "$dir/ps.json" '\u001b]0;owned\u0007' "json escapes"
"$SPAWNCTL" kill "$epid"
wait_pid_gone "$epid" 10 || fail "escaped child $epid did not stop"

note "wait of a child that exits by itself"
"$SPAWNCTL" run --detach -- sh -c 'sleep 0.5; exit 9' >"$dir/d.pid"
"$SPAWNCTL" wait "$(cat "$dir/d.pid")"
assert_eq 9 $? "wait status"

finish
