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
