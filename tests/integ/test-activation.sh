#!/bin/bash
#
# test-activation: spawnd under socket activation, as systemd starts it.
#
# systemd-socket-activate listens on $dir/socket (SOCK_SEQPACKET) and execs
# spawnd, without --socket, on the first connection, with LISTEN_FDS and
# our NOTIFY_SOCKET.  The first client is served, READY=1 arrives on the
# notify socket, spawns work, the children see none of LISTEN_* and
# NOTIFY_SOCKET, and SIGTERM ends the daemon (exit 0, STOPPING=1).

. "$(dirname "$0")/lib.sh"

setup
command -v systemd-socket-activate >/dev/null ||
    skip "systemd-socket-activate is not installed"
[ -x "$SPAWNCTL" ] || skip "no spawnctl at $SPAWNCTL"
[ -x "$HELPERS/notify-listen" ] ||
    skip "$HELPERS/notify-listen not built (tests/tests.mk)"

"$HELPERS/notify-listen" "$dir/notify" 100 >"$dir/notify.out" &
listener_pid=$!
for ((i = 0; i < 100; i++)); do
	[ -S "$dir/notify" ] && break
	sleep 0.05
done
[ -S "$dir/notify" ] || { fail "no notify socket"; finish; }

# systemd-socket-activate passes only what -E names.
envs=(-E "NOTIFY_SOCKET=$dir/notify")
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS SPAWND_DEBUG; do
	[ -n "${!v:-}" ] && envs+=(-E "$v=${!v}")
done

note "socket activation"
systemd-socket-activate -l "$sock" --seqpacket "${envs[@]}" "$SPAWND" \
    </dev/null >>"$dir/spawnd.log" 2>&1 &
daemon_pid=$!
for ((i = 0; i < 100; i++)); do
	[ -S "$sock" ] && break
	sleep 0.05
done
[ -S "$sock" ] || { fail "systemd-socket-activate made no socket"; finish; }

# The first connection starts spawnd; its handshake must still succeed.
"$SPAWNCTL" ping --socket "$sock" >"$dir/ping.out" 2>&1
assert_eq 0 "$?" "first ping (activation)"
for ((i = 0; i < 100; i++)); do
	grep -qx 'READY=1' "$dir/notify.out" && break
	sleep 0.05
done
assert_contains "$dir/notify.out" "READY=1" "sd_notify READY=1"
exe=$(readlink "/proc/$daemon_pid/exe")
assert_eq "$(readlink -f "$SPAWND")" "$exe" "the activated process"
assert_contains "$dir/ping.out" "$daemon_pid" "ping shows the daemon's pid"

export SPAWND_SOCKET=$sock
"$SPAWNCTL" run -- sh -c 'exit 5'
assert_eq 5 "$?" "spawn through the activated daemon"
got=$("$SPAWNCTL" run -- sh -c 'echo "$0 $1"' hello world)
assert_eq "hello world" "$got" "output"
got=$(env -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES -u NOTIFY_SOCKET \
    "$SPAWNCTL" run -- env | grep -E '^(LISTEN_|NOTIFY_SOCKET)')
assert_eq "" "$got" "children see no LISTEN_*/NOTIFY_SOCKET"
got=$("$SPAWNCTL" run --clear-env -- /usr/bin/env)
assert_eq "" "$got" "an empty environment is empty"
# The listening socket is the daemon's, not its children's.
got=$("$SPAWNCTL" run -- sh -c 'ls /proc/$$/fd; exit 0' </dev/null)
assert_eq $'0\n1\n2' "$got" "the child's fds"

# Several clients at once.
for i in 1 2 3 4 5 6 7 8; do
	"$SPAWNCTL" run -- sh -c "exit $i" &
	pids[i]=$!
done
for i in 1 2 3 4 5 6 7 8; do
	wait "${pids[i]}"
	assert_eq "$i" "$?" "concurrent client $i"
done

note "stop"
stop_daemon
for ((i = 0; i < 40; i++)); do
	grep -q 'STOPPING=1' "$dir/notify.out" && break
	sleep 0.05
done
assert_contains "$dir/notify.out" "STOPPING=1" "sd_notify STOPPING=1"
echo "notify messages:" >&2
sed 's/^/  /' "$dir/notify.out" >&2
kill -TERM "$listener_pid" 2>/dev/null
wait "$listener_pid"
finish
