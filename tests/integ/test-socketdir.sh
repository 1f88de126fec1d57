#!/bin/bash
# The socket's path is checked all the way up (issue 12, item 5): every
# directory from / to the socket's own is walked without following
# symbolic links; those above are the daemon's or root's, and writable by
# others only if sticky; the socket's own is the daemon's alone.  With a
# team/ directory of mode 0777, another user could rename team/me-sd away
# and put a fake daemon in a new one; "link/./sock" was accepted where
# "link/sock" was refused.
. "$(dirname "$0")/lib.sh"
setup

# refused PATH WHAT MESSAGE: the daemon exits 1 on PATH, saying MESSAGE.
refused() {
	local log=$dir/refused.log pid rc
	"$SPAWND" --socket "$1" </dev/null >"$log" 2>&1 &
	pid=$!
	if ! wait_pid_gone "$pid" 5; then
		fail "$2: the daemon serves"
		kill -TERM "$pid"
	fi
	wait "$pid"
	rc=$?
	assert_eq 1 "$rc" "$2: exit status"
	assert_contains "$log" "$3" "$2: message"
	[ -e "$1" ] && fail "$2: socket bound"
	rm -f "$1"
}

# accepted PATH WHAT: the daemon serves PATH, and stops.
accepted() {
	sock=$1
	"$SPAWND" --socket "$sock" </dev/null >>"$dir/spawnd.log" 2>&1 &
	daemon_pid=$!
	wait_ready "$daemon_pid" || fail "$2: not serving"
	stop_daemon
}

mkdir -m 0777 "$dir/team" && chmod 0777 "$dir/team"
mkdir -m 0700 "$dir/team/me-sd"
note "an ancestor writable by others, not sticky"
refused "$dir/team/me-sd/sock" "team 0777" "writable by group or others and not sticky"
chmod 0775 "$dir/team"
refused "$dir/team/me-sd/sock" "team 0775" "writable by group or others and not sticky"

note "an ancestor writable by others but sticky (as /tmp)"
chmod 1777 "$dir/team"
accepted "$dir/team/me-sd/sock" "team 1777"

note "symbolic links, in the socket's directory and above"
mkdir -m 0700 "$dir/real" "$dir/up" "$dir/up/sd"
ln -s real "$dir/link"
ln -s up "$dir/uplink"
refused "$dir/link/sock" "link/sock" "symbolic links are refused"
refused "$dir/link/./sock" "link/./sock" "symbolic links are refused"
refused "$dir/uplink/sd/sock" "uplink/sd/sock" "symbolic links are refused"
refused "$dir/real/../real/sock" "real/../real/sock" "'..' in the socket's path"
accepted "$dir/real/./sock" "real/./sock"
accepted "$dir/up/sd/sock" "up/sd/sock"

note "a relative path is checked from / too"
cd "$dir" || exit 1
refused "link/sock" "relative link/sock" "symbolic links are refused"
refused "./link/./sock" "relative ./link/./sock" "symbolic links are refused"
accepted "real/sock" "relative real/sock"
cd / || exit 1

if [ "$(id -u)" = 0 ]; then
	note "an ancestor owned by another user"
	mkdir -m 0755 "$dir/theirs"
	mkdir -m 0700 "$dir/theirs/sd"
	chown 65534 "$dir/theirs"
	refused "$dir/theirs/sd/sock" "theirs/sd" "owned by uid 65534, neither us"
else
	note "not root: the another-owner case is skipped"
fi
finish
