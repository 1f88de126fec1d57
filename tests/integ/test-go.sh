#!/bin/bash
# test-go.sh: the Go package spawnd (go/, issue 17): gofmt, go vet, and
# go test -race against this build's daemon ($SPAWND).  Skips without a
# Go toolchain, and under check-asan: the Go side gains nothing from an
# ASan daemon, and its race build is the slow part of make check.
#
# The Go build cache is the user's ($HOME/.cache/go-build) when it is
# writable, else $B/go-cache; nothing is fetched (GOPROXY=off: the
# module has no dependency).

set -u

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$srcdir/build}
SPAWND=${SPAWND:-$B/spawnd}

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

command -v go >/dev/null || skip "go is not installed (Debian: golang-go)"
[ -x "$SPAWND" ] || skip "no daemon at $SPAWND"
grep -q __asan_init "$SPAWND" && skip "an ASan build: make check runs it"

export GOPROXY=off GOFLAGS= GOTOOLCHAIN=local GOTELEMETRY=off
cache=$(go env GOCACHE 2>/dev/null)
if [ -z "$cache" ] || ! mkdir -p "$cache" 2>/dev/null ||
    [ ! -w "$cache" ]; then
	export GOCACHE=$B/go-cache
fi
if ! gopath=$(go env GOPATH 2>/dev/null) || [ -z "$gopath" ] ||
    ! mkdir -p "$gopath" 2>/dev/null; then
	export GOPATH=$B/go-path
fi
export SPAWND
cd "$srcdir/go" || exit 1

go version
bad=$(gofmt -l .)
if [ -n "$bad" ]; then
	echo "FAIL: gofmt would change: $bad" >&2
	exit 1
fi
go vet ./... || exit 1
# The race detector needs cgo (the package itself uses none).
race=-race
if [ "$(go env CGO_ENABLED)" != 1 ]; then
	echo "== no cgo: testing without -race" >&2
	race=
fi
go test $race -count=1 ./... || exit 1

# A module of a user, outside the tree, gets the package from this
# checkout by a replace directive, and swaps exec.Command for
# spawnd.Command; its default connection autostarts a daemon.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spawnd-gouser.XXXXXX") || exit 1
daemon=
cleanup() {
	local rc=$?
	[ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
mkdir "$tmp/user"
cat >"$tmp/user/go.mod" <<-EOF2
	module example.com/user

	go 1.19

	require spawnd.example/spawnd v0.0.0

	replace spawnd.example/spawnd => $srcdir/go
EOF2
cat >"$tmp/user/main.go" <<-'EOF2'
	package main

	import (
		"fmt"
		"os"

		exec "spawnd.example/spawnd"
	)

	func main() {
		out, err := exec.Command("echo", "from a user module").Output()
		c, cerr := exec.DefaultClient()
		if err != nil || cerr != nil {
			fmt.Println(err, cerr)
			os.Exit(1)
		}
		fmt.Printf("%d %s", c.DaemonPid(), out)
	}
EOF2
(cd "$tmp/user" && go build -o "$tmp/user/prog" .) || exit 1
out=$(SPAWND_SOCKET=$tmp/run/socket SPAWND_DAEMON=$SPAWND "$tmp/user/prog")
daemon=${out%% *}
if [ "${out#* }" != "from a user module" ] || [ ! -S "$tmp/run/socket" ]; then
	echo "FAIL: the user module printed '$out'" >&2
	exit 1
fi
echo "user module: $out (autostarted daemon $daemon)"
