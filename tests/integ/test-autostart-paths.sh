#!/bin/bash
# Autostart checks the socket's path all the way up (issue 12, item 5) and
# a user without XDG_RUNTIME_DIR gets a private default that works,
# /tmp/spawnd-UID/socket (issue 14):
#
#   - refused (exit 125, no daemon, nothing created): an ancestor 0777 and
#     not sticky, an ancestor of another user, a symlink component (also
#     as sym/./sd), a symlinked PATH.start.lock;
#   - accepted: a root-owned sticky 1777 ancestor holding our directory;
#   - as uid 65534 with no XDG_RUNTIME_DIR nor SPAWND_SOCKET, in a mount
#     namespace with a tmpfs of its own on /tmp (the real /tmp/spawnd-UID
#     is the machine's): `spawnctl run -- true` starts a daemon on
#     /tmp/spawnd-65534/socket (0700, ours); a pre-made one of root's, or
#     0755, or a symlink, is refused.
. "$(dirname "$0")/lib.sh"
setup
[ "$(id -u)" = 0 ] || skip "needs root (directories of other users)"
export SPAWND_DAEMON=$SPAWND
unset XDG_RUNTIME_DIR

# daemon_on PATH: pids of spawnd processes serving PATH.
daemon_on() {
	local p
	for p in /proc/[0-9]*; do
		[ "$p/exe" -ef "$SPAWND" ] 2>/dev/null || continue
		tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qx -- "$1" &&
		    echo "${p#/proc/}"
	done
}

# refused NAME SOCKET WANT: spawnctl run on SOCKET fails (125) saying WANT,
# and starts no daemon.
refused() {
	SPAWND_SOCKET=$2 "$SPAWNCTL" run -- true 2>"$dir/err"
	assert_eq 125 $? "$1: exit status"
	assert_contains "$dir/err" "$3" "$1: message"
	assert_eq "" "$(daemon_on "$2")" "$1: no daemon"
	stop_on "$2"
}

# stop_on PATH: stop the daemons serving PATH (none if all went well).
stop_on() {
	local p
	for p in $(daemon_on "$1"); do
		kill -TERM "$p"
		wait_pid_gone "$p" 10 || fail "daemon $p did not stop"
	done
}

note "0777 ancestor, not sticky, of another user"
mkdir -m 0777 "$dir/team"
chown 65534:65534 "$dir/team"
chmod 0777 "$dir/team"
refused "0777 team/" "$dir/team/me/socket" "refusing to start spawnd"
[ -e "$dir/team/me" ] && fail "0777 team/: directory created"

note "ancestor of another user, not writable"
mkdir -m 0755 "$dir/theirs"
chown 65534:65534 "$dir/theirs"
refused "65534's dir" "$dir/theirs/socket" "belongs to another user"

note "0777 ancestor of ours, not sticky"
mkdir -m 0777 "$dir/open"
chmod 0777 "$dir/open"
mkdir -m 0700 "$dir/open/me"
refused "0777 open/" "$dir/open/me/socket" "refusing to start spawnd"

note "symlink component, and sym/./"
mkdir -m 0700 "$dir/real"
ln -s real "$dir/sym"
refused "sym/" "$dir/sym/sd/socket" "symbolic link"
refused "sym/./" "$dir/sym/./sd/socket" "symbolic link"
[ -e "$dir/real/sd" ] && fail "sym/: directory created through the link"

note "symlinked start lock"
mkdir -m 0700 "$dir/lk"
ln -s "$dir/victim" "$dir/lk/socket.start.lock"
refused "lock symlink" "$dir/lk/socket" "symbolic link"
[ -e "$dir/victim" ] && fail "the lock symlink's target was created"

note "a root-owned sticky 1777 ancestor with our directory in it works"
mkdir -m 1777 "$dir/sticky"
chmod 1777 "$dir/sticky"
SPAWND_SOCKET=$dir/sticky/me/socket "$SPAWNCTL" run -- true 2>"$dir/err"
assert_eq 0 $? "sticky: exit status"
stop_on "$dir/sticky/me/socket"

note "no XDG_RUNTIME_DIR, uid 65534: /tmp/spawnd-65534/socket"
command -v unshare >/dev/null || skip "no unshare(1) for a private /tmp"
command -v setpriv >/dev/null || skip "no setpriv(1) to become uid 65534"
unshare -m --propagation private true 2>"$dir/unshare.err" ||
    skip "no private mount namespace: $(cat "$dir/unshare.err")"
# The private /tmp hides $dir: the binaries are copied into it, 0755,
# since the build tree may sit under a 0700 home anyway.
cat >"$dir/inner.sh" <<'EOF'
set -u
# Opened before the tmpfs hides them (the clone may be under /tmp).
exec 3<"$1" 4<"$2" 5<"$3" || exit 1
mount -t tmpfs -o mode=1777 tmpfs /tmp || exit 77
mkdir -m 0755 /tmp/bin
cp /proc/self/fd/3 /tmp/bin/spawnd
cp /proc/self/fd/4 /tmp/bin/spawnctl
cp /proc/self/fd/5 /tmp/bin/libspawnd.so.0
exec 3<&- 4<&- 5<&-
chmod 0755 /tmp/bin/*
as() {
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    env -u XDG_RUNTIME_DIR -u SPAWND_SOCKET \
	    SPAWND_DAEMON=/tmp/bin/spawnd /tmp/bin/spawnctl "$@"
}
echo "== autostart"
as run -- sh -c 'echo ran as $(id -u)'
echo "rc=$?"
stat -c 'dir=%a %u %F' /tmp/spawnd-65534
pid=$(as ping | sed -n 's/^spawnd pid \([0-9]*\).*/\1/p')
kill -TERM "$pid"
for i in $(seq 200); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
[ -d "/proc/$pid" ] && echo "daemon $pid still running"
for kind in root 0755 symlink; do
	rm -rf /tmp/spawnd-65534 /tmp/elsewhere
	case $kind in
	root) mkdir -m 0700 /tmp/spawnd-65534 ;;
	0755) mkdir -m 0755 /tmp/spawnd-65534
	      chown 65534:65534 /tmp/spawnd-65534 ;;
	symlink) mkdir -m 0700 /tmp/elsewhere
		 chown 65534:65534 /tmp/elsewhere
		 ln -s elsewhere /tmp/spawnd-65534 ;;
	esac
	echo "== $kind"
	as run -- true
	echo "rc=$?"
	ls -A /tmp/spawnd-65534/ /tmp/elsewhere 2>/dev/null | grep -q socket &&
	    echo "a socket was made"
done
# Whatever went wrong, no daemon outlives the namespace's /tmp.
for p in /proc/[0-9]*; do
	[ "$p/exe" -ef /tmp/bin/spawnd ] 2>/dev/null && kill -KILL "${p#/proc/}"
done
exit 0
EOF
unshare -m --propagation private bash "$dir/inner.sh" "$SPAWND" \
    "$SPAWNCTL" "$(dirname "$SPAWNCTL")/libspawnd.so.0" >"$dir/inner.out" 2>&1
rc=$?
[ $rc = 77 ] && skip "cannot mount a tmpfs on /tmp"
cat "$dir/inner.out" >&2
assert_eq 0 $rc "inner script"
out=$(cat "$dir/inner.out")
assert_contains "$out" "started spawnd on /tmp/spawnd-65534/socket" \
    "autostart on the default path"
assert_contains "$out" "ran as 65534" "the child ran"
assert_contains "$out" $'ran as 65534\nrc=0' "spawnctl run exit status"
assert_contains "$out" "dir=700 65534 directory" "the directory made"
assert_not_contains "$out" "still running" "daemon stopped"
assert_not_contains "$out" "a socket was made" "no socket in a refused dir"
for kind in root 0755 symlink; do
	sec=$(sed -n "/^== $kind\$/,/^rc=/p" "$dir/inner.out")
	assert_contains "$sec" "rc=125" "pre-made $kind: exit status"
	assert_contains "$sec" "refusing to start spawnd at /tmp/spawnd-65534/socket" \
	    "pre-made $kind: message"
done
finish
