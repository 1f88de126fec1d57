#!/bin/bash
# The README's library example, examples/run.c, as built by make check:
# the README shows exactly that file; against a private daemon it runs a
# program with our stdio and exits as it did; every failure is said.
. "$(dirname "$0")/lib.sh"
setup
run=$B/examples/run
[ -x "$run" ] || skip "no $run (make check builds it)"

note "the README shows examples/run.c as it is"
awk -v dir="$dir" '
/^```/ { if (inb) { inb = 0; close(f) } else if ($0 == "```c") \
    { inb = 1; f = sprintf("%s/block.%d", dir, ++n) }; next }
inb { print > f }' "$SRCDIR/README.md"
found=0
for f in "$dir"/block.*; do
	cmp -s "$f" "$SRCDIR/examples/run.c" && found=1
done
assert_eq 1 "$found" "a c block of README.md equal to examples/run.c"

note "spawnd.h alone compiles in strict C11 and C99, and as C++"
printf '#include <spawnd.h>\nint main(void) { return 0; }\n' >"$dir/h.c"
for std in c11 c99; do
	cc -std=$std -pedantic -Wall -Wextra -Werror -I"$SRCDIR/client" \
	    -fsyntax-only "$dir/h.c" 2>"$dir/h.err"
	assert_eq 0 $? "spawnd.h with -std=$std" || cat "$dir/h.err" >&2
done
if command -v c++ >/dev/null; then
	c++ -std=c++17 -pedantic -Wall -Wextra -Werror -I"$SRCDIR/client" \
	    -fsyntax-only -x c++ "$dir/h.c" 2>"$dir/h.err"
	assert_eq 0 $? "spawnd.h as C++17" || cat "$dir/h.err" >&2
fi

note "no daemon: says so, exits 125"
SPAWND_SOCKET=$dir/none "$run" true 2>"$dir/err"
assert_eq 125 $? "exit status without a daemon"
assert_contains "$dir/err" "spawnd_connect: No such file or directory" \
    "message without a daemon"

start_daemon

note "runs a program with our stdin, stdout, stderr; exits as it did"
out=$(echo in | "$run" sh -c 'read x; echo "out $x"; echo err >&2; exit 3' \
    2>"$dir/err")
assert_eq 3 $? "exit status"
assert_eq "out in" "$out" "stdout and stdin"
assert_eq "err" "$(cat "$dir/err")" "stderr"

note "a signal: 128 + N"
"$run" sh -c 'kill -TERM $$'
assert_eq 143 $? "killed by SIGTERM"

note "a program that is not there: 127, with the step"
"$run" no-such-program-here 2>"$dir/err"
assert_eq 127 $? "not found"
assert_contains "$dir/err" "exec failed: No such file or directory" \
    "not-found message"

note "no program: usage, 125"
"$run" 2>"$dir/err"
assert_eq 125 $? "usage exit status"

stop_daemon
finish
