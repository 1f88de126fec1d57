#!/bin/bash
# What README.md says about the first minutes holds: its package list is
# what .ci/install-deps.sh installs, and the programs it runs by name are
# where it says (build/spawnd, build/spawnctl).
. "$(dirname "$0")/lib.sh"

readme=$SRCDIR/README.md
deps=$SRCDIR/.ci/install-deps.sh

note "README's package list is install-deps.sh's"
want=$(sed -n 's/^pkgs="\([^"$]*\)"$/\1/p' "$deps" | tr ' ' '\n' | sort)
got=$(tr '\n' ' ' <"$readme" |
    sed -n 's/.*installs only the Debian packages that are missing (`\([^`]*\)`.*/\1/p' |
    tr ' ' '\n' | sed '/^$/d' | sort)
assert_ne "" "$want" "packages of install-deps.sh"
assert_eq "$want" "$got" "README's package list"

note "install-deps.sh as a user without sudo says what to install"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	setup
	mkdir "$dir/bin"
	for c in sh dpkg-query grep id; do
		ln -s "$(command -v "$c")" "$dir/bin/$c"
	done
	# A package that is surely missing makes it want to install.
	out=$(cd "$dir" && sed 's/^pkgs="/pkgs="spawnd-no-such-package /' \
	    "$deps" >deps.sh && chmod 755 deps.sh "$dir" &&
	    setpriv --reuid=65534 --regid=65534 --clear-groups \
	    env PATH="$dir/bin" sh ./deps.sh 2>&1)
	rc=$?
	assert_eq 1 "$rc" "exit status without root and sudo"
	assert_contains "$out" "apt-get install spawnd-no-such-package" \
	    "the command to run"
	assert_not_contains "$out" "not found" "no 'sudo: not found'"
else
	note "(not root: skipped)"
fi

note "the programs the README runs from the build tree are there"
assert_contains "$readme" "build/spawnd" "README names build/spawnd"
assert_contains "$readme" "/usr/local/sbin" "README says where spawnd goes"
[ -x "$B/spawnd" ] && [ -x "$B/spawnctl" ] ||
    fail "no $B/spawnd or $B/spawnctl"

finish
