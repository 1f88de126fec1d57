# shellcheck shell=bash
# lib.sh: helpers for the shell integration tests (bash).  Source it:
#
#	. "$(dirname "$0")/lib.sh"
#	setup			# $dir: a fresh temporary directory
#	start_daemon		# spawnd on $sock, $daemon_pid; waits for ping
#	...  assert_eq 3 "$rc" "exit code"  ...
#	stop_daemon		# SIGTERM, must exit 0 (also done at exit)
#	finish			# exit 0, or 1 if an assertion failed
#
# Environment (set by run-tests.sh): SPAWND, SPAWNCTL, B, HELPERS.

set -u

SPAWND=${SPAWND:-${B:-build}/spawnd}
SPAWNCTL=${SPAWNCTL:-${B:-build}/spawnctl}
HELPERS=${HELPERS:-${B:-build}/tests/helpers}

dir=
sock=
daemon_pid=
failures=0

# skip MESSAGE: exit 77.
skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# fail MESSAGE: record a failure, go on.
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# note MESSAGE
note() {
	echo "== $*" >&2
}

# assert_eq WANT GOT WHAT
assert_eq() {
	if [ "$1" != "$2" ]; then
		fail "$3: expected '$1', got '$2'"
		return 1
	fi
	return 0
}

# assert_ne NOT GOT WHAT
assert_ne() {
	if [ "$1" = "$2" ]; then
		fail "$3: got '$2'"
		return 1
	fi
	return 0
}

# assert_contains FILE-OR-STRING NEEDLE WHAT: NEEDLE in the file's content
# (if FILE-OR-STRING names a file) or in the string.  A file is waited for
# (2 s): a daemon started with its stderr on a file logs through a logger
# process (spawnd(8)), which may not have written the line yet.
assert_contains() {
	local hay=$1 i
	for ((i = 0; i < 40; i++)); do
		[ -f "$1" ] || break
		grep -qF -- "$2" "$1" && break
		sleep 0.05
	done
	[ -f "$hay" ] && hay=$(cat "$hay")
	case $hay in
	*"$2"*) return 0 ;;
	esac
	fail "$3: '$2' not found in '$hay'"
	return 1
}

# assert_not_contains FILE-OR-STRING NEEDLE WHAT
assert_not_contains() {
	local hay=$1
	[ -f "$hay" ] && hay=$(cat "$hay")
	case $hay in
	*"$2"*)
		fail "$3: '$2' found in '$hay'"
		return 1
		;;
	esac
	return 0
}

# cleanup: the EXIT trap: stop the daemon (if any), remove $dir.
cleanup() {
	local rc=$?
	if [ -n "$daemon_pid" ] && pid_alive "$daemon_pid"; then
		kill -TERM "$daemon_pid" 2>/dev/null
		wait_pid_gone "$daemon_pid" 5 || kill -KILL "$daemon_pid"
	fi
	[ -n "$dir" ] && rm -rf "$dir"
	exit "$rc"
}

# setup: $dir = a fresh directory, removed at exit.
setup() {
	[ -x "$SPAWND" ] || skip "no daemon at $SPAWND"
	dir=$(mktemp -d "${TMPDIR:-/tmp}/spawnd-test.XXXXXX") ||
	    { echo "mktemp failed" >&2; exit 1; }
	sock=$dir/socket
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# pid_alive PID: is PID running (a zombie is not)?
pid_alive() {
	local l
	l=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	l=${l##*) }
	[ -n "$l" ] && [ "${l%% *}" != Z ]
}

# wait_pid_gone PID SECONDS: wait for a process to exit.
wait_pid_gone() {
	local i n=$(($2 * 20))
	for ((i = 0; i < n; i++)); do
		pid_alive "$1" || return 0
		sleep 0.05
	done
	return 1
}

# ping: does the daemon on $sock answer?
ping_daemon() {
	"$SPAWNCTL" ping --socket "$sock" >/dev/null 2>&1
}

# wait_ready PID: wait (5 s) for $sock and a ping answer; 1 if PID died.
wait_ready() {
	local i
	for ((i = 0; i < 100; i++)); do
		pid_alive "$1" || return 1
		if [ -S "$sock" ] && ping_daemon; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# start_daemon [ARGS...]: spawnd --socket $sock in the background, its
# stderr in $dir/spawnd.log; waits until it answers.
start_daemon() {
	"$SPAWND" --socket "$sock" "$@" </dev/null >>"$dir/spawnd.log" 2>&1 &
	daemon_pid=$!
	if ! wait_ready "$daemon_pid"; then
		echo "daemon not ready after 5 s; its log:" >&2
		cat "$dir/spawnd.log" >&2
		exit 1
	fi
	export SPAWND_SOCKET=$sock
}

# stop_daemon: SIGTERM; the daemon must exit 0 within 10 s.
stop_daemon() {
	local rc
	[ -n "$daemon_pid" ] || return 0
	kill -TERM "$daemon_pid"
	if ! wait_pid_gone "$daemon_pid" 10; then
		fail "daemon did not exit on SIGTERM"
		kill -KILL "$daemon_pid"
	fi
	wait "$daemon_pid"
	rc=$?
	assert_eq 0 "$rc" "daemon exit status"
	daemon_pid=
}

# daemon_fds: the number of open fds of the daemon.
daemon_fds() {
	local f n=0
	for f in "/proc/$daemon_pid/fd/"*; do
		[ -e "$f" ] || [ -L "$f" ] && n=$((n + 1))
	done
	echo "$n"
}

# idle_fds: the daemon's fd count once it is steady (max 3 s).
idle_fds() {
	local i n last same=0
	last=$(daemon_fds)
	for ((i = 0; i < 30 && same < 3; i++)); do
		sleep 0.1
		n=$(daemon_fds)
		if [ "$n" = "$last" ]; then
			same=$((same + 1))
		else
			same=0
			last=$n
		fi
	done
	echo "$last"
}

# settle_fds WANT: wait (2 s) for the daemon's fd count to be WANT; prints
# the last count.
settle_fds() {
	local i n
	for ((i = 0; i < 40; i++)); do
		n=$(daemon_fds)
		[ "$n" = "$1" ] && break
		sleep 0.05
	done
	echo "$n"
}

# finish: print the daemon's log on failure, exit 0 or 1.
finish() {
	if [ "$failures" -ne 0 ]; then
		if [ -n "$dir" ] && [ -s "$dir/spawnd.log" ]; then
			echo "--- daemon log:" >&2
			tail -n 30 "$dir/spawnd.log" >&2
		fi
		echo "$failures failure(s)" >&2
		exit 1
	fi
	echo "all checks passed" >&2
	exit 0
}

# --- spawnctl wrap (the test-wrap-*.sh tests) ---

SHIM=${B:-build}/libspawnd-preload.so

# wrap_setup: setup, and skip unless the shim is there and usable.  An
# ASan build's shim needs libasan loaded first in every process it enters,
# which a wrapped tree of foreign programs cannot arrange: check-asan
# covers the library itself; these tests skip there.
wrap_setup() {
	setup
	[ -f "$SHIM" ] || skip "no $SHIM"
	if nm -D "$SHIM" 2>/dev/null | grep -q __asan_; then
		skip "ASan build: wrapped programs would need libasan preloaded"
	fi
	export SPAWND_DAEMON=$SPAWND
	unset SPAWND_SOCKET SPAWND_WRAP SPAWND_WRAP_DEBUG SPAWND_WRAP_SID
}

# spawns_of FILE: the spawn count in a "spawnctl ping" output in FILE.
spawns_of() {
	sed -n 's/.*children, \([0-9]*\) spawns.*/\1/p' "$1" | tail -n 1
}

# brokered FILE: the number of SPAWND_WRAP_DEBUG lines in FILE.
brokered() {
	grep -c 'spawnd-wrap\[[0-9]*\]: brokered pid' "$1"
}
