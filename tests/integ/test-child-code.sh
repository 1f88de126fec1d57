#!/bin/bash
#
# test-child-code: the clone child calls no function outside its own code.
#
# Without CLONE_VFORK the child of daemon/child.c runs on the daemon's
# memory and thread pointer while the daemon goes on, so it must not run
# libc (errno, locks, lazy binding) or a sanitizer's runtime.  The compiler
# can bring one in behind our back (a loop turned into strlen, an
# instrumented access), so read the object: in every function of the
# child's (child_main and what it calls), each call must go to another of
# them, and each relocation to a function (R_*_PLT32) too; only
# __stack_chk_fail, which ends the process, may be named.  x86_64 only;
# checks $B/daemon/child.o, so check-asan checks its ASan build.

. "$(dirname "$0")/lib.sh"

[ "$(uname -m)" = x86_64 ] || skip "the check reads x86_64 code"
command -v objdump >/dev/null || skip "no objdump"
obj=${B:-}/daemon/child.o
[ -f "$obj" ] || skip "no $obj"

# The child's functions, as child.c marks them CHILD_CODE; those inlined
# into others have no symbol of their own, which is fine.
child_fns=$(sed -n 's/^\([a-z_]*\)(.*/\1/p' \
    <(awk '/CHILD_CODE$/ { getline; print }' "$SRCDIR/daemon/child.c") |
    sort -u)
[ -n "$child_fns" ] || { fail "no CHILD_CODE functions in child.c"; finish; }
assert_contains "$child_fns" child_main "child_main is child code"

bad=$(objdump -dr --no-show-raw-insn "$obj" | awk -v fns="$child_fns" '
	BEGIN { n = split(fns, a, "\n"); for (i = 1; i <= n; i++) ok[a[i]] = 1 }
	/^[0-9a-f]+ <[^>]+>:$/ {
		fn = $2; gsub(/[<>:]/, "", fn); inchild = (fn in ok); next
	}
	!inchild { next }
	/R_[A-Z0-9_]*PLT32/ {
		t = $3; sub(/[-+]0x[0-9a-f]+$/, "", t)
		if (!(t in ok) && t != "__stack_chk_fail")
			print fn ": calls " t
		next
	}
	/\tcall +\*/ { print fn ": indirect call: " $0; next }
	/\tcall / {
		t = $NF; gsub(/[<>]/, "", t)
		if (t !~ /\+0x/ && !(t in ok))
			print fn ": calls " t
	}')
assert_eq "" "$bad" "calls out of the child's code in $obj"
finish
