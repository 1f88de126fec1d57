#!/bin/bash
# rust.sh: the Rust section of `make bench` (issue 16): Rust's own
# std::process::Command (bench/wrap-rust.rs), 20 threads each writing a
# script and running it, 100 rounds each, run directly and under
# `spawnctl wrap`, alternating, REPS times each.  Prints each run's
# counts and time, and the throughput ratio wrapped/unwrapped (median of
# the runs).  Fails if a wrapped run saw any ETXTBSY or error.  Skips
# (exit 0) without rustc.
#
# Environment: B (the build directory), QUICK=1 (10 rounds, 1 run each).

set -u

here=$(cd "$(dirname "$0")" && pwd)
B=${B:-$here/../build}
SPAWNCTL=$B/spawnctl
threads=20 rounds=100 reps=3
[ "${QUICK:-0}" = 1 ] && rounds=10 reps=1

echo
echo "Rust: write-then-exec with std::process::Command, unwrapped against spawnctl wrap"
rustc=$(command -v rustc || echo "$HOME/.cargo/bin/rustc")
if [ ! -x "$rustc" ]; then
	echo "skipped: rustc is not installed (Debian: rustc)"
	exit 0
fi
[ -x "$SPAWNCTL" ] || { echo "rust.sh: no $SPAWNCTL" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/spawnd-rustbench.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
"$rustc" --edition 2021 -C opt-level=1 -o "$work/t" "$here/wrap-rust.rs" \
    >"$work/rustc.log" 2>&1 || { cat "$work/rustc.log" >&2; exit 1; }

# run MODE: one run; prints "MODE ok N etxtbsy N errors N SECONDS".
# Wrapped, spawnctl wrap starts a daemon of its own and stops it after.
run() {
	local t0 t1 out
	rm -rf "$work/s" && mkdir "$work/s"
	t0=$(date +%s.%N)
	if [ "$1" = wrapped ]; then
		out=$("$SPAWNCTL" wrap -- \
		    "$work/t" etxtbsy "$work/s" "$threads" "$rounds")
	else
		out=$("$work/t" etxtbsy "$work/s" "$threads" "$rounds")
	fi
	t1=$(date +%s.%N)
	echo "$1 $out $(echo "$t1 - $t0" | bc -l 2>/dev/null ||
	    awk "BEGIN { print $t1 - $t0 }")"
}

: >"$work/runs"
for ((i = 0; i < reps; i++)); do
	run unwrapped >>"$work/runs"
	run wrapped >>"$work/runs"
done
awk -v n=$((threads * rounds)) '
function median(a, k,   i, j, t) {
	for (i = 1; i <= k; i++)
		for (j = i + 1; j <= k; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
{
	printf "   %-10s %6d ok %5d ETXTBSY %5d errors %8.1f spawns/s\n",
	    $1, $3, $5, $7, n / $8
	if (NF != 8) { print "   bad run: " $0; bad++; next }
	if ($1 == "wrapped") { w[++nw] = n / $8; bad += $5 + $7 + n - $3 }
	else { u[++nu] = n / $8; busy += $5 }
}
END {
	printf "   ETXTBSY unwrapped: %d in %d runs; wrapped: %d\n", busy, nu, bad
	if (nw > 0 && nu > 0)
		printf "   throughput wrapped / unwrapped (medians): %.2fx\n",
		    median(w, nw) / median(u, nu)
	exit bad != 0
}' "$work/runs"
