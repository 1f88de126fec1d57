#!/bin/bash
#
# test-idle: --exit-idle-time under socket activation.
#
# systemd-socket-activate hands spawnd a SOCK_SEQPACKET socket and our own
# NOTIFY_SOCKET (tests/helpers/notify-listen).  Checked: the first client
# activates it and READY=1 arrives; with --exit-idle-time=1 the daemon
# stays while a detached child lives (no connection) and while a client is
# connected (no child), then exits 0 on its own, saying STOPPING=1;
# running systemd-socket-activate again on the same path re-activates it.
# systemd-socket-activate is one-shot (it execs the daemon in its place),
# so re-activation by the socket itself is tested under a real systemd
# (test-systemd.sh).

. "$(dirname "$0")/lib.sh"

IDLE=1

setup
command -v systemd-socket-activate >/dev/null ||
    skip "systemd-socket-activate is not installed"
[ -x "$SPAWNCTL" ] || skip "no spawnctl at $SPAWNCTL"
[ -x "$HELPERS/notify-listen" ] ||
    skip "$HELPERS/notify-listen not built (tests/tests.mk)"

"$HELPERS/notify-listen" "$dir/notify" 60 >"$dir/notify.out" &
listener_pid=$!
for ((i = 0; i < 100; i++)); do
	[ -S "$dir/notify" ] && break
	sleep 0.05
done
[ -S "$dir/notify" ] || { fail "no notify socket"; finish; }

envs=(-E "NOTIFY_SOCKET=$dir/notify")
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
	[ -n "${!v:-}" ] && envs+=(-E "$v=${!v}")
done
export SPAWND_SOCKET=$sock

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# activate: systemd-socket-activate on $sock, waiting until it listens.
activate() {
	local n
	n=$(grep -c "Listening on $sock" "$dir/spawnd.log" 2>/dev/null)
	systemd-socket-activate -l "$sock" --seqpacket "${envs[@]}" \
	    "$SPAWND" --exit-idle-time="$IDLE" </dev/null \
	    >>"$dir/spawnd.log" 2>&1 &
	daemon_pid=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c "Listening on $sock" "$dir/spawnd.log")" -gt \
		    "${n:-0}" ] && break
		sleep 0.05
	done
}

# count_ready: the READY=1 datagrams so far.
count_ready() {
	grep -cx 'READY=1' "$dir/notify.out"
}

# wait_idle_exit: wait (10 s) for the daemon to exit on its own; $ms = how
# long it took since $start; its exit status must be 0.
wait_idle_exit() {
	local rc
	ms=
	if ! wait_pid_gone "$daemon_pid" 10; then
		fail "no idle exit within 10 s"
		return
	fi
	ms=$(($(now_ms) - start))
	wait "$daemon_pid"
	rc=$?
	assert_eq 0 "$rc" "exit status after idle"
	daemon_pid=
}

# Each phase's first client activates the daemon, so that no idle exit can
# come between activation and the client, however slow the machine.
note "activation by a detached child's spawn; the child keeps it (no connection)"
activate
start=$(now_ms)
"$SPAWNCTL" run --detach -- sleep 2 >/dev/null
assert_eq 0 "$?" "spawnctl run --detach activates the daemon"
out=$("$SPAWNCTL" ping 2>&1)
assert_contains "$out" "spawnd pid $daemon_pid" "the activated daemon answers"
for ((i = 0; i < 40; i++)); do
	[ "$(count_ready)" = 1 ] && break
	sleep 0.05
done
assert_eq 1 "$(count_ready)" "READY=1 on our NOTIFY_SOCKET"
wait_idle_exit
note "exited after $ms ms (child 2000 ms + idle $((IDLE * 1000)) ms)"
[ -n "$ms" ] && [ "$ms" -ge $((2000 + IDLE * 1000 - 200)) ] ||
    fail "exited after $ms ms, while or right after its child ran"
[ -n "$ms" ] && [ "$ms" -le $((2000 + IDLE * 1000 + 4000)) ] ||
    fail "exited late: $ms ms"
assert_contains "$dir/notify.out" "STOPPING=1" "STOPPING=1 on idle exit"
assert_contains "$dir/spawnd.log" "idle for $IDLE s, exiting" "the log"

note "re-activation on the same path"
activate
out=$("$SPAWNCTL" run -- sh -c 'echo again')
assert_eq again "$out" "spawn after re-activation"
for ((i = 0; i < 40; i++)); do
	[ "$(count_ready)" = 2 ] && break
	sleep 0.05
done
assert_eq 2 "$(count_ready)" "READY=1 again"

start=$(now_ms)
wait_idle_exit
note "idle exit after $ms ms"

note "a connection keeps it (no child), then idle exit"
if command -v python3 >/dev/null; then
	# Activated by this client, which stays connected for 2 s.
	activate
	start=$(now_ms)
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
time.sleep(2)' "$sock"
	assert_eq 0 "$?" "a client connected for 2 s"
	wait_idle_exit
	note "exited after $ms ms (connection 2000 ms + idle $((IDLE * 1000)) ms)"
	[ -n "$ms" ] && [ "$ms" -ge $((2000 + IDLE * 1000 - 200)) ] ||
	    fail "exited after $ms ms, while or right after a client was connected"
else
	note "no python3: skipping the connected-client case"
fi

kill -TERM "$listener_pid" 2>/dev/null
wait "$listener_pid"
finish
