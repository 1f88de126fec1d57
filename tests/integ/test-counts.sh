#!/bin/bash
# test-counts.sh: what a spawn+wait costs in system calls and wake-ups
# stays what issue 15 left it.  bench's workload 1 counts them (the
# raw_syscalls:sys_enter tracepoint through perf_event_open, so root or
# perf_event_paranoid -1; else this test skips) for the handle API and a
# ping, against a tiny static target whose own calls are its exit alone.
#
# Before issue 15 the daemon made 27 calls per spawn+wait, the library 7,
# the child 15 (four signal resets), the daemon 5 per ping and the library
# 3: each bound below catches one of those coming back.  Since then the
# daemon yields once to a new child on idle CPUs (20), and the library
# reads /proc twice to check the pidfd it is given (10 or 11).  The posix
# face reads the caller's state for each spawn: 49 calls, 35 since the
# rlimits come from one read of /proc/self/limits (one fcntl per fd the
# caller holds among them).  The daemon closes the fds a request brought
# with one close_range (18 calls; the posix face's 7 fds took 23).  Since
# the client, not the daemon, waits for the exec (PROTO_SPAWN_EXEC_FD),
# the daemon makes 14 calls and 2 wake-ups (no yield, no notify pipe in
# its loop), and the library 3 more (fstat, poll, close of the exec fd).

. "$(dirname "$0")/lib.sh"

BENCH=$B/bench/bench
[ -x "$BENCH" ] || skip "no benchmark at $BENCH"
# A sanitizer's runtime makes calls of its own: the plain build counts.
if ldd "$SPAWND" 2>/dev/null | grep -q -e libasan -e libubsan -e libtsan
then
	skip "sanitizer build: the counts are the plain build's"
fi
setup
cc -DTINY_RAW -nostdlib -static -O2 -s -o "$dir/tiny" \
    "$SRCDIR/bench/tiny-src/tiny.c" 2>/dev/null && "$dir/tiny" ||
    skip "cannot build the tiny static target"
start_daemon
csv=$dir/counts.csv
if ! "$BENCH" -q -s "$sock" -o "$csv" -r 1 -n 10 \
    -m spawnd,spawnd_posix,ping -t "tiny=$dir/tiny" latency \
    2>"$dir/bench.err"; then
	cat "$dir/bench.err" >&2
	fail "bench latency failed"
fi
grep -q ',sys_daemon,' "$csv" ||
    skip "system calls cannot be counted here (raw_syscalls tracepoint)"

# at_most MODE METRIC MAX WHAT: the count per spawn+wait is at most MAX.
at_most() {
	local v
	v=$(awk -F, -v m="$1" -v k="$2" \
	    '$1 == 1 && $3 == m && $5 == k { print $7 }' "$csv")
	note "$4: $v"
	awk -v v="$v" -v max="$3" \
	    'BEGIN { exit !(v != "" && v + 0 <= max + 0) }' ||
	    fail "$4: $v per spawn+wait, at most $3 expected"
}

at_most spawnd sys_daemon 14.5 "daemon's system calls, handle API"
# A child reaped before the library checks its pidfd (a loaded machine,
# the tiny target) costs the /proc reads instead of PIDFD_GET_INFO: up
# to 6 calls more for that spawn.
at_most spawnd sys_client 16 "library's system calls, handle API"
at_most spawnd sys_child 12 "child's system calls, exec and exit included"
at_most spawnd vcs_daemon 2.6 "daemon's wake-ups"
# One fcntl per fd the caller holds: room for more than this test's.
at_most spawnd_posix sys_client 43 "library's system calls, posix face"
at_most spawnd_posix sys_daemon 15 "daemon's system calls, posix face"
at_most ping sys_daemon 3 "daemon's system calls per ping"
at_most ping sys_client 2 "library's system calls per ping"

stop_daemon
finish
