#!/bin/bash
#
# run-tests.sh: runs spawnd's tests.
#
#	B=/abs/build/dir tests/run-tests.sh [FILTER...]
#
# Runs every executable in $B/tests/unit/ and $B/tests/integ/ and every
# tests/integ/*.sh (but lib.sh), each under `timeout $TEST_TIMEOUT` (120 s)
# with B, SPAWND, SPAWNCTL, HELPERS and SRCDIR exported.  A FILTER runs only
# the tests whose name contains it.  Exit 0 is PASS, 77 SKIP, anything else
# FAIL; a failure's log is kept in $B/test-logs/NAME.log and its last 40
# lines are shown.  Ends with "N passed, N failed[, N skipped]" and exits 1
# if anything failed.
#
# No test may leave a process behind: each runs under $HELPERS/reaper
# (tests/helpers/reaper.c), a child subreaper that names, kills and reaps
# whatever the test's processes left alive, and such a test FAILs with
# "left processes behind" and their pids and command lines.
#
# VALGRIND=1 runs the daemon of the C integration tests under valgrind.
# The tests of the child's set-up run a second time as NAME[vfork], their
# daemon with --launch vfork.

set -u

srcdir=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$srcdir/build}
case $B in
/*) ;;
*) B=$(cd "$B" 2>/dev/null && pwd || echo "$PWD/$B") ;;
esac
timeout_s=${TEST_TIMEOUT:-120}
logdir=$B/test-logs

export B SRCDIR=$srcdir
export SPAWND=${SPAWND:-$B/spawnd}
export SPAWNCTL=${SPAWNCTL:-$B/spawnctl}
export HELPERS=${HELPERS:-$B/tests/helpers}
# The tests find the daemon themselves; never one from the environment.
unset SPAWND_SOCKET LISTEN_FDS LISTEN_PID LISTEN_FDNAMES NOTIFY_SOCKET

if [ -t 1 ]; then
	c_pass=$'\e[32m' c_fail=$'\e[31m' c_skip=$'\e[33m' c_off=$'\e[0m'
else
	c_pass='' c_fail='' c_skip='' c_off=''
fi

reaper=()
if [ -x "$HELPERS/reaper" ]; then
	reaper=("$HELPERS/reaper")
else
	echo "run-tests: no $HELPERS/reaper (make check builds it):" \
	    "leftover processes go unnoticed" >&2
fi

passed=0 failed=0 skipped=0
failed_names=()

# wanted NAME: does NAME match the filters (all names without filters)?
wanted() {
	local f
	[ $# -gt 1 ] || return 0
	for f in "${@:2}"; do
		case $1 in
		*"$f"*) return 0 ;;
		esac
	done
	return 1
}

# run_one NAME COMMAND...
run_one() {
	local name=$1 log rc start secs
	shift
	mkdir -p "$logdir"
	log=$logdir/${name//\//_}.log
	start=$SECONDS
	(cd "$srcdir" && "${reaper[@]}" timeout -k 10 "$timeout_s" "$@") \
	    </dev/null >"$log" 2>&1
	rc=$?
	secs=$((SECONDS - start))
	case $rc in
	0)
		echo "${c_pass}PASS${c_off} $name (${secs}s)"
		passed=$((passed + 1))
		rm -f "$log"
		;;
	77)
		echo "${c_skip}SKIP${c_off} $name: $(tail -n 1 "$log")"
		skipped=$((skipped + 1))
		rm -f "$log"
		;;
	99)
		echo "${c_fail}FAIL${c_off} $name: left processes behind:" \
		    "$(sed -n 's/^reaper: left behind: //p' "$log" |
		    paste -sd ';' -) (log: $log)"
		tail -n 40 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		failed_names+=("$name")
		;;
	*)
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			echo "timed out after ${timeout_s}s (exit $rc)" >>"$log"
		fi
		echo "${c_fail}FAIL${c_off} $name (exit $rc, ${secs}s," \
		    "log: $log)"
		tail -n 40 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		failed_names+=("$name")
		;;
	esac
}

for dir in unit integ; do
	for t in "$B/tests/$dir"/*; do
		if [ ! -f "$t" ] || [ ! -x "$t" ]; then
			continue
		fi
		case $t in
		*.d|*.o|*.log) continue ;;
		esac
		name=$dir/${t##*/}
		wanted "$name" "$@" || continue
		run_one "$name" "$t"
	done
done

# The daemon's children are made three ways (--launch, daemon/child.c): by
# default the daemon serves on while a child execs, and leaves the wait
# for the exec to libspawnd, which asks for it; so the tests of what a
# child gets run once more with the daemon waiting on the exec itself
# (async, what clients that do not ask get) and with the opt-in that
# stops it until each exec (vfork).
for launch in async vfork; do
	for t in test-spawn test-execfd test-posix test-posix-table \
	    test-posix-closed test-semantics \
	    test-faults test-limits test-lifetime test-threads; do
		[ -x "$B/tests/integ/$t" ] || continue
		name="integ/$t[$launch]"
		wanted "$name" "$@" || continue
		run_one "$name" env SPAWND_TEST_LAUNCH=$launch \
		    "$B/tests/integ/$t"
	done
done

for t in "$srcdir"/tests/integ/*.sh; do
	[ -f "$t" ] || continue
	case ${t##*/} in
	lib.sh) continue ;;
	esac
	name=integ/${t##*/}
	wanted "$name" "$@" || continue
	run_one "$name" bash "$t"
done

rmdir "$logdir" 2>/dev/null

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
