#!/bin/bash
#
# test-make-install: `make install` and `make uninstall` with DESTDIR.
#
# Installs into a staging directory with PREFIX=/usr and checks the exact
# set of files (binaries, library with its soname links, header, .pc file,
# units in the directories `pkg-config systemd` names, man pages), their
# modes and the paths substituted into them; builds a small program with
# `pkg-config --cflags --libs spawnd` against the staged header and library
# (PKG_CONFIG_PATH + PKG_CONFIG_SYSROOT_DIR) and runs it, and the staged
# spawnctl, against the staged daemon; checks SYSTEMDUNITDIR and
# SYSTEMDUSERUNITDIR override the unit directories; and that uninstall
# removes exactly the files install placed, and nothing else.
#
# (test-install.c is another test: the spawnd_install() function.)

. "$(dirname "$0")/lib.sh"

SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${B:-$SRCDIR/build}

setup
command -v pkg-config >/dev/null || skip "pkg-config is not installed"
command -v "${CC:-cc}" >/dev/null || skip "no C compiler"
[ -x "$B/spawnctl" ] && [ -f "$B/libspawnd.so" ] || skip "not built in $B"

# inst DESTDIR TARGET [VAR=value...]: make TARGET of what $B holds (-o all:
# never rebuild it here with other flags).
inst() {
	local d=$1 t=$2
	shift 2
	make -s -C "$SRCDIR" -o all "$t" B="$B" DESTDIR="$d" "$@" \
	    >>"$dir/make.log" 2>&1 ||
	    { cat "$dir/make.log" >&2; fail "make $t DESTDIR=$d $*"; finish; }
}

# files DIR: every non-directory under DIR, with type and mode, sorted.
files() {
	(cd "$1" && find . ! -type d -printf '%y %m %p\n' | sed 's| \./| |' |
	    sort)
}

st=$dir/stage
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
userunitdir=$(pkg-config --variable=systemduserunitdir systemd 2>/dev/null)
unitdir=${unitdir:-/lib/systemd/system}
userunitdir=${userunitdir:-/usr/lib/systemd/user}
real=$(cd "$B" && ls libspawnd.so.*.*.*)

note "make install DESTDIR=... PREFIX=/usr"
inst "$st" install PREFIX=/usr
# Twice: installing over an installation works.
inst "$st" install PREFIX=/usr
{
	echo "f 755 usr/sbin/spawnd"
	echo "f 755 usr/bin/spawnctl"
	echo "f 755 usr/lib/$real"
	echo "l 777 usr/lib/libspawnd.so.0"
	echo "l 777 usr/lib/libspawnd.so"
	echo "f 644 usr/include/spawnd.h"
	echo "f 755 usr/lib/spawnd/libspawnd-preload.so"
	echo "f 644 usr/lib/pkgconfig/spawnd.pc"
	for u in spawnd.socket spawnd.service; do
		echo "f 644 ${unitdir#/}/$u"
		echo "f 644 ${userunitdir#/}/$u"
	done
	for m in "$SRCDIR"/man/*.[0-9]; do
		m=${m##*/}
		echo "f 644 usr/share/man/man${m##*.}/$m"
	done
} | sort >"$dir/want"
files "$st" >"$dir/got"
if ! diff -u "$dir/want" "$dir/got" >"$dir/diff"; then
	cat "$dir/diff" >&2
	fail "installed files differ from the expected set"
fi

assert_eq "libspawnd.so.0.1.0 libspawnd.so.0" \
    "$(readlink "$st/usr/lib/libspawnd.so.0") $(readlink "$st/usr/lib/libspawnd.so")" \
    "soname links"
soname=$(readelf -d "$st/usr/lib/$real" 2>/dev/null |
    sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ -z "$soname" ] || assert_eq libspawnd.so.0 "$soname" "SONAME"
got=$(grep -rlI '@[A-Z][A-Z_]*@' "$st" 2>/dev/null)
assert_eq "" "$got" "unsubstituted @VARS@ in installed files"
pc=$st/usr/lib/pkgconfig/spawnd.pc
assert_contains "$pc" "prefix=/usr" ".pc prefix (substituted at install)"
assert_contains "$pc" "libdir=/usr/lib" ".pc libdir"
assert_contains "$pc" "includedir=/usr/include" ".pc includedir"
for d in "$unitdir" "$userunitdir"; do
	assert_contains "$st$d/spawnd.service" \
	    "ExecStart=/usr/sbin/spawnd --exit-idle-time=" "ExecStart in $d"
done
for m in "$st"/usr/share/man/man3/*.3; do
	first=$(head -n 1 "$m")
	case $first in
	.so\ *)
		[ -f "$st/usr/share/man/${first#.so }" ] ||
		    fail "${m##*/}: '$first' names no installed page"
		;;
	esac
done

note "a program built with pkg-config against the staged tree"
export PKG_CONFIG_PATH=$st/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$st
# Keep -I/-L even for /usr/include and /usr/lib: with a sysroot they are
# the staged ones.
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
flags=$(pkg-config --cflags --libs spawnd)
assert_eq 0 "$?" "pkg-config --cflags --libs spawnd"
assert_contains "$flags" "-I$st/usr/include" "pkg-config --cflags"
assert_contains "$flags" "-L$st/usr/lib" "pkg-config --libs"
assert_eq 0.1.0 "$(pkg-config --modversion spawnd)" "pkg-config --modversion"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
cat >"$dir/prog.c" <<'EOF'
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <spawnd.h>

int
main(void)
{
	const char *argv[] = { "/bin/sh", "-c", "exit 7", NULL };
	const char *envp[] = { NULL };
	struct spawnd_req *req;
	struct spawnd_exit ex;
	struct spawnd_failure why;
	int r;

	if (spawnd_req_new(&req) < 0 || spawnd_req_set_argv(req, argv) < 0 ||
	    spawnd_req_set_envp(req, envp) < 0)
		return 2;
	if ((r = spawnd_run(NULL, req, &ex, &why)) < 0) {
		fprintf(stderr, "spawnd_run: %s\n", strerror(-r));
		return 1;
	}
	spawnd_req_free(req);
	printf("status %d\n", WIFEXITED(ex.status) ? WEXITSTATUS(ex.status) :
	    -1);
	return 0;
}
EOF
# A sanitizer build of the library needs a sanitizer build of the program.
san=
ldd "$B/libspawnd.so" | grep -q libasan && san=-fsanitize=address,undefined
# shellcheck disable=SC2086
"${CC:-cc}" -Wall $san -o "$dir/prog" "$dir/prog.c" $flags 2>"$dir/cc.log" ||
    { cat "$dir/cc.log" >&2; fail "compiling against the staged tree"; }
export LD_LIBRARY_PATH=$st/usr/lib
lib=$(ldd "$dir/prog" | sed -n 's/.*libspawnd\.so\.0 => \([^ ]*\).*/\1/p')
assert_eq "$st/usr/lib/libspawnd.so.0" "$lib" "the program uses the staged library"

SPAWND=$st/usr/sbin/spawnd
start_daemon
got=$("$dir/prog" 2>&1)
assert_eq "status 7" "$got" "the program runs through the staged daemon"
got=$("$st/usr/bin/spawnctl" run -- sh -c 'echo ok; exit 4')
assert_eq "4 ok" "$? $got" "the staged spawnctl"
stop_daemon
unset LD_LIBRARY_PATH

note "SYSTEMDUNITDIR and SYSTEMDUSERUNITDIR override the unit directories"
inst "$dir/stage2" install PREFIX=/opt/sd SYSTEMDUNITDIR=/etc/u/sys \
    SYSTEMDUSERUNITDIR=/etc/u/user
got=$(cd "$dir/stage2" && ls etc/u/sys etc/u/user | tr '\n' ' ')
assert_eq "etc/u/sys: spawnd.service spawnd.socket  etc/u/user: spawnd.service spawnd.socket " \
    "$got" "units in the given directories"
assert_contains "$dir/stage2/etc/u/user/spawnd.service" \
    "ExecStart=/opt/sd/sbin/spawnd " "ExecStart follows PREFIX"
assert_contains "$dir/stage2/opt/sd/lib/pkgconfig/spawnd.pc" \
    "prefix=/opt/sd" ".pc follows PREFIX"
inst "$dir/stage2" uninstall PREFIX=/opt/sd SYSTEMDUNITDIR=/etc/u/sys \
    SYSTEMDUSERUNITDIR=/etc/u/user
assert_eq "" "$(files "$dir/stage2")" "uninstall with the same overrides"

note "make uninstall removes exactly what install placed"
mkdir -p "$st/usr/share/man/man3"
echo keep >"$st/usr/bin/other"
echo keep >"$st/usr/share/man/man3/other.3"
echo keep >"$st${unitdir}/other.service"
inst "$st" uninstall PREFIX=/usr
got=$(files "$st" | tr '\n' ' ')
assert_eq "f 644 ${unitdir#/}/other.service f 644 usr/bin/other f 644 usr/share/man/man3/other.3 " \
    "$got" "what is left after uninstall"

finish
