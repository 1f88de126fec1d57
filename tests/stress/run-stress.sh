#!/bin/bash
#
# run-stress.sh: runs the stress and fault tests (make stress, make tsan).
#
#	B=/abs/build/dir [STRESS_QUICK=1] tests/stress/run-stress.sh [NAME...]
#
# NAMEs: kill load threads alloc-asan tsan (default: all but tsan, which
# make tsan runs; with TSAN_BIN set, tsan too).  Each test runs under
# `timeout $STRESS_TIMEOUT` (1800 s) with B, SPAWND, SPAWNCTL, HELPERS
# exported; exit 0 is PASS, 77 SKIP, anything else FAIL.  The figures a
# test prints (its own lines, not the daemon's) are shown under its name;
# a failure's whole log is kept in $B/stress-logs/NAME.log.  Ends with
# "N passed, N failed[, N skipped]" and exits 1 if anything failed.
#
# STRESS_QUICK=1 is the short variant CI runs; STRESS_SEED fixes the
# random order of stress-kill and stress-load.

set -u

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$srcdir/build}
case $B in
/*) ;;
*) B=$srcdir/$B ;;
esac
ASAN_B=${ASAN_B:-$srcdir/build-asan}
timeout_s=${STRESS_TIMEOUT:-1800}
logdir=$B/stress-logs
export B SRCDIR=$srcdir STRESS_QUICK=${STRESS_QUICK:-}
export SPAWND=${SPAWND:-$B/spawnd}
export SPAWNCTL=${SPAWNCTL:-$B/spawnctl}
export HELPERS=${HELPERS:-$B/tests/helpers}
unset SPAWND_SOCKET LISTEN_FDS LISTEN_PID LISTEN_FDNAMES NOTIFY_SOCKET

passed=0 failed=0 skipped=0

# run NAME COMMAND...: one test, its figures shown.
run() {
	local name=$1 log rc start
	shift
	mkdir -p "$logdir"
	log=$logdir/$name.log
	start=$SECONDS
	echo "== $name: $*" >"$log"
	(cd "$srcdir" && timeout -k 10 "$timeout_s" "$@") </dev/null \
	    >>"$log" 2>&1
	rc=$?
	case $rc in
	0)
		echo "PASS $name ($((SECONDS - start))s)"
		passed=$((passed + 1))
		;;
	77)
		echo "SKIP $name: $(tail -n 1 "$log")"
		skipped=$((skipped + 1))
		;;
	*)
		echo "FAIL $name (exit $rc, $((SECONDS - start))s, log: $log)"
		failed=$((failed + 1))
		;;
	esac
	# The test's own lines: figures, DEFECT notes, failures.
	grep -v -e '^spawnd: ' -e '^==[0-9]*==' -e '^--[0-9]*--' "$log" |
	    sed -n '2,$p' | tail -n 40 | sed 's/^/    /'
	[ "$rc" = 0 ] || [ "$rc" = 77 ] || return 0
	rm -f "$log"
}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	names=(kill load threads alloc-asan)
	[ -n "${TSAN_BIN:-}" ] && names+=(tsan)
fi

for n in "${names[@]}"; do
	case $n in
	kill)	run stress-kill "$B/tests/stress/stress-kill" ;;
	load)	run stress-load "$B/tests/stress/stress-load" ;;
	threads) run stress-threads "$B/tests/stress/stress-threads" ;;
	alloc-asan)
		# failalloc.so in front of ASan's allocator; LeakSanitizer
		# checks the daemon's heap when it exits.
		if [ -x "$ASAN_B/spawnd" ] && [ -x "$ASAN_B/tests/integ/test-faults" ]; then
			run alloc-asan env FAULTS=alloc SPAWND="$ASAN_B/spawnd" \
			    HELPERS="$ASAN_B/tests/helpers" \
			    "$ASAN_B/tests/integ/test-faults"
		else
			echo "SKIP alloc-asan: no ASan build in $ASAN_B"
			skipped=$((skipped + 1))
		fi
		;;
	tsan)
		tsan=${TSAN_BIN:-$srcdir/build-tsan/tests/stress/stress-threads}
		# halt_on_error: a race fails the run at once, with its report.
		run stress-threads-tsan env \
		    TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" \
		    "$tsan"
		;;
	*)
		echo "run-stress.sh: unknown test $n" >&2
		exit 2
		;;
	esac
done

rmdir "$logdir" 2>/dev/null
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
