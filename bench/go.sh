#!/bin/bash
# go.sh: the Go section of `make bench` (issue 17): the write-then-exec
# workload of golang/go#22315 with Go's os/exec and with package spawnd
# (go/cmd/spawnd-etxtbsy): 20 goroutines (GOMAXPROCS >= 4), each writing
# a 1 MiB executable in 4 KiB writes and running it, 100 rounds each.
# Prints both lines and the throughput ratio spawnd/os-exec; fails if
# spawnd saw any ETXTBSY or error.  Skips (exit 0) without Go.
#
# Environment: B (the build directory), QUICK=1 (10 rounds).

set -u

here=$(cd "$(dirname "$0")" && pwd)
B=${B:-$here/../build}
SPAWND=$B/spawnd
rounds=100
[ "${QUICK:-0}" = 1 ] && rounds=10

echo
echo "Go: write-then-exec, os/exec against package spawnd"
if ! command -v go >/dev/null; then
	echo "skipped: go is not installed (Debian: golang-go)"
	exit 0
fi
[ -x "$SPAWND" ] || { echo "go.sh: no daemon at $SPAWND" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/spawnd-gobench.XXXXXX") || exit 1
daemon_pid=
cleanup() {
	local rc=$?
	if [ -n "$daemon_pid" ]; then
		kill -TERM "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export GOPROXY=off GOFLAGS= GOTOOLCHAIN=local GOTELEMETRY=off
[ -w "$(go env GOCACHE 2>/dev/null)" ] || export GOCACHE=$B/go-cache
(cd "$here/../go" && go build -o "$work/spawnd-etxtbsy" \
    ./cmd/spawnd-etxtbsy) || exit 1
"$SPAWND" --socket "$work/socket" </dev/null >"$work/spawnd.log" 2>&1 &
daemon_pid=$!
for ((i = 0; i < 100; i++)); do
	[ -S "$work/socket" ] && break
	sleep 0.05
done
mkdir "$work/progs"
"$work/spawnd-etxtbsy" -socket "$work/socket" -dir "$work/progs" \
    -n 20 -rounds "$rounds"
