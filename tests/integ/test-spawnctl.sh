#!/bin/bash
#
# test-spawnctl: `spawnctl run` behaves like running the program directly:
# exit status (128+N for a signal), stdin/stdout/stderr, cwd, environment,
# 127/126 for exec failures, a clear message without a daemon, and Ctrl-C
# (SIGINT to spawnctl) reaching the program.

. "$(dirname "$0")/lib.sh"

setup
[ -x "$SPAWNCTL" ] || skip "no spawnctl at $SPAWNCTL"
start_daemon
base_fds=$(idle_fds)

note "exit codes"
for code in 0 1 3 255; do
	"$SPAWNCTL" run -- sh -c "exit $code"
	assert_eq "$code" "$?" "spawnctl run -- sh -c 'exit $code'"
done
"$SPAWNCTL" run --socket "$sock" -- sh -c 'exit 7'
assert_eq 7 "$?" "with --socket"
"$SPAWNCTL" run -- true
assert_eq 0 "$?" "run true (PATH search)"
"$SPAWNCTL" run -- false
assert_eq 1 "$?" "run false"

note "death by signal: 128+N"
"$SPAWNCTL" run -- sh -c 'kill -TERM $$'
assert_eq 143 "$?" "killed by SIGTERM"
"$SPAWNCTL" run -- sh -c 'kill -KILL $$'
assert_eq 137 "$?" "killed by SIGKILL"
# As seen by a non-shell parent too: the status is a death by signal or
# an exit with 128+N.
sh -c '"$1" run -- sh -c "kill -USR1 \$\$"; echo "rc=$?"' sh "$SPAWNCTL" \
    >"$dir/sig.out" 2>/dev/null
assert_eq "rc=138" "$(cat "$dir/sig.out")" "killed by SIGUSR1, via sh"

note "stdin, stdout, stderr"
echo hi | "$SPAWNCTL" run -- cat >"$dir/file"
assert_eq 0 "$?" "echo hi | spawnctl run -- cat > file"
assert_eq hi "$(cat "$dir/file")" "cat's output"
"$SPAWNCTL" run -- sh -c 'echo out; echo err >&2' >"$dir/out" 2>"$dir/err"
assert_eq out "$(cat "$dir/out")" "stdout"
assert_eq err "$(cat "$dir/err")" "stderr"
printf 'a\nb\nc\n' >"$dir/in"
got=$("$SPAWNCTL" run -- wc -l <"$dir/in")
assert_eq 3 "$got" "stdin from a file"
got=$("$SPAWNCTL" run -- sh -c 'cat; echo done' </dev/null)
assert_eq "done" "$got" "stdin /dev/null"
# A reader sees EOF when the child is done, not when spawnctl is.
got=$( { "$SPAWNCTL" run -- sh -c 'echo 1; echo 2'; } | head -n 1)
assert_eq 1 "$got" "stdout into a pipe"
# A big stream both ways.
head -c 3000000 /dev/zero | tr '\0' x >"$dir/big"
got=$("$SPAWNCTL" run -- cat <"$dir/big" | wc -c)
assert_eq 3000000 "$got" "3 MB through cat"

note "cwd"
real=$(cd "$dir" && pwd -P)
got=$(cd "$dir" && "$SPAWNCTL" run -- pwd -P)
assert_eq "$real" "$got" "cwd is spawnctl's"
mkdir "$dir/sub"
got=$("$SPAWNCTL" run --cwd "$dir/sub" -- pwd -P)
assert_eq "$real/sub" "$got" "--cwd absolute"
got=$(cd "$dir" && "$SPAWNCTL" run --cwd sub -- pwd -P)
assert_eq "$real/sub" "$got" "--cwd relative"

note "environment"
got=$(FOO=bar "$SPAWNCTL" run -- sh -c 'echo "$FOO"')
assert_eq bar "$got" "environ by default"
got=$(FOO=bar "$SPAWNCTL" run --env FOO=baz --env NEW='a b' -- \
    sh -c 'echo "$FOO|$NEW"')
assert_eq "baz|a b" "$got" "--env"
got=$(env -i PATH=/usr/bin:/bin X=1 "$SPAWNCTL" run --socket "$sock" -- env)
assert_eq $'PATH=/usr/bin:/bin\nX=1' "$got" "exact environment"
got=$("$SPAWNCTL" run -- env | grep -E '^(LISTEN_|NOTIFY_SOCKET)')
assert_eq "" "$got" "no LISTEN_*/NOTIFY_SOCKET"

note "exec failures"
"$SPAWNCTL" run -- "$dir/missing" 2>"$dir/err"
assert_eq 127 "$?" "missing program"
assert_contains "$dir/err" "No such file or directory" "missing program"
"$SPAWNCTL" run -- no-such-command-spawnd-test 2>"$dir/err"
assert_eq 127 "$?" "missing command in PATH"
printf '#!/bin/sh\necho run\n' >"$dir/noexec"
chmod 0644 "$dir/noexec"
"$SPAWNCTL" run -- "$dir/noexec" 2>"$dir/err"
assert_eq 126 "$?" "non-executable"
assert_contains "$dir/err" "Permission denied" "non-executable"
"$SPAWNCTL" run -- "$dir" 2>/dev/null
assert_eq 126 "$?" "a directory"

note "no daemon"
SPAWND_SOCKET=$dir/nosock "$SPAWNCTL" run --no-autostart -- true \
    >"$dir/out" 2>"$dir/err"
rc=$?
assert_ne 0 "$rc" "exit status without a daemon"
assert_contains "$dir/err" "$dir/nosock" "message names the socket"
echo "(message: $(cat "$dir/err"))" >&2
"$SPAWNCTL" ping --socket "$dir/nosock" >/dev/null 2>&1
assert_ne 0 "$?" "ping without a daemon"
: >"$dir/notasocket"
"$SPAWNCTL" run --socket "$dir/notasocket" -- true 2>/dev/null
assert_ne 0 "$?" "a socket path that is a regular file"

note "ping"
"$SPAWNCTL" ping >"$dir/out" 2>&1
assert_eq 0 "$?" "ping"
assert_contains "$dir/out" "$daemon_pid" "ping shows the daemon's pid"

# run_bg OUT ARGS...: spawnctl run ARGS in the background with SIGINT at
# its default (as in a terminal's foreground job); $bg_pid.
run_bg() {
	local out=$1
	shift
	env --default-signal=INT,TERM "$SPAWNCTL" run "$@" >"$out" 2>&1 &
	bg_pid=$!
}

# wait_for FILE TEXT SECONDS
wait_for() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# reap PID WHAT: wait (10 s) for a background job; its status in $rc.
reap() {
	if ! wait_pid_gone "$1" 10; then
		fail "$2: still running after 10 s"
		kill -KILL "$1"
	fi
	wait "$1"
	rc=$?
}

note "Ctrl-C: SIGINT to spawnctl reaches the program"
run_bg "$dir/int.out" -- sh -c \
    'trap "echo got INT; exit 42" INT; echo ready; while :; do sleep 0.1; done'
if wait_for "$dir/int.out" ready 5; then
	kill -INT "$bg_pid"
	reap "$bg_pid" "after SIGINT"
	assert_eq 42 "$rc" "exit status after SIGINT"
	assert_contains "$dir/int.out" "got INT" "the program saw SIGINT"
else
	fail "program did not start: $(cat "$dir/int.out")"
	kill -KILL "$bg_pid"
fi

note "SIGTERM to spawnctl reaches the program"
run_bg "$dir/term.out" -- sh -c 'echo ready; while :; do sleep 0.1; done'
if wait_for "$dir/term.out" ready 5; then
	kill -TERM "$bg_pid"
	reap "$bg_pid" "after SIGTERM"
	assert_eq 143 "$rc" "exit status after SIGTERM"
else
	fail "program did not start: $(cat "$dir/term.out")"
	kill -KILL "$bg_pid"
fi

note "the daemon is back to its idle fds"
n=$(settle_fds "$base_fds")
assert_eq "$base_fds" "$n" "daemon fd count"
[ "$n" = "$base_fds" ] || ls -l "/proc/$daemon_pid/fd" >&2

stop_daemon
finish
