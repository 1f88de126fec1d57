#!/bin/sh
#
# Replays the committed seed corpus of every fuzz target through its gcc
# replay driver (tests/fuzz/replay.c).  make check runs it as
# $B/tests/unit/fuzz-replay, a copy fuzz.mk makes with the targets filled
# in; run-tests.sh exports B and SRCDIR.

set -eu
for t in @FUZZ_TARGETS@; do
	"$B/tests/fuzz/replay-$t" "$SRCDIR/tests/fuzz/corpus/$t"
done
