#!/bin/bash
#
# test-systemd: the installed units under a real systemd.
#
# Boots this machine's systemd as PID 1 in namespaces (tests/helpers/sysns.sh),
# installs spawnd into it with `make install DESTDIR=... PREFIX=/usr`,
# and then, for the system manager, root's user manager and an unprivileged
# user's user manager, with the units as installed plus a test drop-in (idle
# time 3 s, WatchdogSec=3s, --debug):
#
#   socket active, service inactive -> `spawnctl run` (default socket lookup)
#   activates it and works -> `systemctl status` shows the STATUS= text ->
#   idle exit (never while a child lives) -> the next client re-activates ->
#   `systemctl stop` leaves no child and no socket file; a SIGSTOPped daemon
#   is restarted by the watchdog.
#
# Needs root, overlayfs, cgroup2, and the Debian packages systemd, dbus,
# dbus-user-session and libpam-systemd (`.ci/install-deps.sh --ci`
# installs them); else exit 77, with the reason and the packages.  Prints
# the time of each step.  SYSNS_KEEP=1 keeps the guest's journal.

. "$(dirname "$0")/lib.sh"

SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${B:-$SRCDIR/build}
IDLE=3			# --exit-idle-time of the test drop-in
WDOG=3			# WatchdogSec= of the test drop-in
TUSER=spawndtest	# the unprivileged user, created in the guest

# shellcheck source=../helpers/sysns.sh
. "$SRCDIR/tests/helpers/sysns.sh"

[ "$(id -u)" = 0 ] || skip "needs root to boot systemd in namespaces"
# Heavy (a systemd boot): make check runs it, make check-asan not again.
ldd "$B/spawnd" 2>/dev/null | grep -q libasan &&
    skip "a sanitizer build: the systemd test runs in make check only"
need=$(sysns_needs)
[ -z "$need" ] || skip "needs the Debian packages: $need" \
    "(apt-get install $need, or .ci/install-deps.sh --ci)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    skip "no overlayfs in this kernel"
grep -qw overlay /proc/filesystems || skip "no overlayfs in this kernel"
grep -qw cgroup2 /proc/filesystems || skip "no cgroup2 in this kernel"
[ -x "$B/spawnd" ] && [ -x "$B/spawnctl" ] || skip "not built in $B"

t0=$(date +%s%N)
lap_t=$t0
# lap WHAT: print WHAT with the time since the last lap and since the start.
lap() {
	local now
	now=$(date +%s%N)
	printf '%6d ms %+6d ms  %s\n' $(((now - t0) / 1000000)) \
	    $(((now - lap_t) / 1000000)) "$*" >&2
	lap_t=$now
}

stage=
on_exit() {
	local rc=$?
	sysns_teardown
	[ -n "$stage" ] && rm -rf "$stage"
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- build the staging tree, boot, install -------------------------------
stage=$(mktemp -d "${TMPDIR:-/tmp}/spawnd-stage.XXXXXX")
# -o all: install what $B holds; never rebuild it here with other flags.
make -s -C "$SRCDIR" -o all install B="$B" DESTDIR="$stage/root" \
    PREFIX=/usr >"$stage/install.log" 2>&1 ||
    { cat "$stage/install.log" >&2; fail "make install"; finish; }
lap "make install DESTDIR=... PREFIX=/usr"

if ! sysns_boot 2>"$stage/boot.log"; then
	tail -n 20 "$stage/boot.log" >&2
	skip "the systemd guest cannot boot here: $(tail -n 1 "$stage/boot.log")"
fi
lap "booted systemd (guest PID 1 = host pid $SYSNS_PID1)"
mv "$stage/root" "$SYSNS_SHARED/stage"
sysns_exec sh -c 'tar -C /run/sysns/stage -cf - . |
    tar -C / -xf - --keep-directory-symlink' ||
    { fail "copying the staged install into the guest"; finish; }
lap "installed into the guest"

# g CMD...: run CMD in the guest as root (system context).
g() { sysns_exec "$@"; }

unit=$(g cat /lib/systemd/system/spawnd.service)
assert_contains "$unit" "ExecStart=/usr/sbin/spawnd --exit-idle-time=" \
    "installed system unit names the installed daemon"
unit=$(g cat /usr/lib/systemd/user/spawnd.service)
assert_contains "$unit" "ExecStart=/usr/sbin/spawnd --exit-idle-time=" \
    "installed user unit names the installed daemon"
out=$(g systemd-analyze verify --man=no /lib/systemd/system/spawnd.socket \
    /lib/systemd/system/spawnd.service 2>&1)
assert_eq "0" "$?" "systemd-analyze verify (system units): $out"

# The test drop-in: the installed ExecStart= with a short idle time and
# --debug (structured journal entries), and a short watchdog.
for m in system:/lib/systemd/system user:/usr/lib/systemd/user; do
	d=/etc/systemd/${m%%:*}/spawnd.service.d
	exec_line=$(g sed -n 's/^ExecStart=//p' "${m#*:}/spawnd.service")
	exec_line="${exec_line%%--exit-idle-time=*}--exit-idle-time=$IDLE --debug"
	g sh -c "mkdir -p $d && printf '%s\n' '[Service]' 'ExecStart=' \
	    'ExecStart=$exec_line' 'WatchdogSec=${WDOG}s' > $d/test.conf"
done
g systemctl daemon-reload || fail "daemon-reload"
g useradd -m -N -s /bin/sh "$TUSER" ||
    fail "useradd $TUSER"
lap "drop-ins written, daemon-reload, user $TUSER created"

# ---- helpers for one manager: $mode (system|user), $who (a user name) ----
# run CMD...: as the manager's user, with its environment (for user
# managers XDG_RUNTIME_DIR, so clients find the user socket by default).
run() {
	if [ "$mode" = system ]; then
		sysns_exec "$@"
	else
		sysns_exec_user "$who" "$@"
	fi
}
ctl() {
	if [ "$mode" = system ]; then
		sysns_exec systemctl "$@"
	else
		sysns_exec_user "$who" systemctl --user "$@"
	fi
}
prop() { ctl show -P "$2" "$1"; }

# wait_until SECONDS CMD...: poll CMD every 0.1 s; 1 if it never succeeded.
wait_until() {
	local end=$(($(date +%s%N) + $1 * 1000000000))
	shift
	until "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
is_state() { [ "$(ctl is-active "$1" 2>/dev/null)" = "$2" ]; }
status_has() {
	case $(prop spawnd.service StatusText) in
	*"$1"*) ;;
	*) false ;;
	esac
}
pid_gone() { ! g test -d "/proc/$1"; }
pids_gone() {
	local p
	for p in "$@"; do pid_gone "$p" || return 1; done
}
# cgroup_pids: the pids in the service's cgroup (empty when it is gone).
cgroup_pids() {
	local cg
	cg=$(prop spawnd.service ControlGroup)
	[ -n "$cg" ] && g cat "/sys/fs/cgroup$cg/cgroup.procs" 2>/dev/null
}

# check_manager: the whole cycle for one manager.
check_manager() {
	local tag="[$mode${who:+ $who}]" uid sock pid1 pid2 out rc spawns
	local ms t tied det left

	uid=$(g id -u "$who")
	if [ "$mode" = system ]; then
		sock=/run/spawnd/socket
	else
		sock=/run/user/$uid/spawnd/socket
	fi

	# enable --now, as the README says.
	ctl enable --now spawnd.socket >/dev/null 2>&1 ||
	    { fail "$tag enable --now spawnd.socket"; return; }
	assert_eq active "$(ctl is-active spawnd.socket)" "$tag socket active"
	assert_eq enabled "$(ctl is-enabled spawnd.socket)" "$tag socket enabled"
	assert_eq inactive "$(ctl is-active spawnd.service)" \
	    "$tag service inactive before the first client"
	assert_eq "600 $who" "$(g stat -c '%a %U' "$sock")" "$tag socket mode"
	assert_eq "700 $who" "$(g stat -c '%a %U' "${sock%/*}")" \
	    "$tag socket directory mode"
	lap "$tag socket listening at $sock"

	# The first client starts the daemon; the default lookup finds it.
	out=$(run spawnctl run -- sh -c 'echo "hi $(id -un)"; exit 3')
	rc=$?
	assert_eq 3 "$rc" "$tag spawnctl run exit status (activation)"
	assert_eq "hi $who" "$out" "$tag the child's output and user"
	lap "$tag first spawnctl run activated the daemon"
	assert_eq active "$(ctl is-active spawnd.service)" "$tag service active"
	pid1=$(prop spawnd.service MainPID)
	assert_ne 0 "$pid1" "$tag MainPID"
	out=$(run sh -c 'ulimit -n; spawnctl run -- sh -c \
	    "cat /proc/self/cgroup; ulimit -n"')
	assert_contains "$out" "/spawnd.service" \
	    "$tag the child is in the service's cgroup"
	# The client's soft limit, not the daemon's (which it raised).
	assert_eq "${out%%$'\n'*}" "${out##*$'\n'}" \
	    "$tag the child's RLIMIT_NOFILE is the client's soft limit"
	spawns=2

	# STATUS= in systemctl status.
	wait_until 3 status_has "0 connections, 0 children, $spawns spawns" ||
	    fail "$tag StatusText: '$(prop spawnd.service StatusText)'"
	out=$(ctl status --no-pager spawnd.service 2>&1)
	assert_contains "$out" \
	    "Status: \"Serving: 0 connections, 0 children, $spawns spawns\"" \
	    "$tag systemctl status shows STATUS="
	if [ "$mode" = system ]; then
		out=$(g journalctl -b -u spawnd.service -o export --no-pager |
		    grep -E '^(CLIENT_PID|CLIENT_UID|CHILD_PID|EXECUTABLE)=')
		assert_contains "$out" "EXECUTABLE=sh" \
		    "$tag structured journal fields"
		assert_contains "$out" "CHILD_PID=" "$tag CHILD_PID= field"
	fi
	lap "$tag STATUS= shown by systemctl status"

	# Idle exit, never with a live child: a detached child of 2 s keeps
	# it for 2 s + IDLE.  Then it exits 0 and the socket stays.
	if [ "$mode" = system ]; then
		t=2
		run spawnctl run --detach -- sleep "$t" >/dev/null ||
		    fail "$tag spawnctl run --detach"
	else
		t=0
	fi
	ms=$(date +%s%N)
	if wait_until $((t + IDLE + 5)) is_state spawnd.service inactive; then
		ms=$((($(date +%s%N) - ms) / 1000000))
		[ "$t" = 0 ] || [ "$ms" -ge $(((t + IDLE) * 1000 - 300)) ] ||
		    fail "$tag idle exit after $ms ms, before ${t}s child + ${IDLE}s"
	else
		fail "$tag no idle exit within $((t + IDLE + 5)) s"
	fi
	assert_eq success "$(prop spawnd.service Result)" "$tag idle exit result"
	assert_eq 0 "$(prop spawnd.service ExecMainStatus)" \
	    "$tag idle exit status"
	assert_eq active "$(ctl is-active spawnd.socket)" \
	    "$tag socket still listening after idle exit"
	lap "$tag idle exit (${t}s child + ${IDLE}s idle: after $ms ms)"

	# The next client re-activates it.  The new daemon may have exited
	# idle again by the time we look (a loaded machine): ExecMainPID
	# names the last one started even then.
	out=$(run spawnctl run -- echo again)
	assert_eq again "$out" "$tag spawnctl run after idle exit"
	pid2=$(prop spawnd.service ExecMainPID)
	assert_ne 0 "$pid2" "$tag re-activated (ExecMainPID)"
	assert_ne "$pid1" "$pid2" "$tag a new daemon"
	lap "$tag re-activated by the next client (pid $pid1 -> $pid2)"

	# Stop with a tied child (its client lives in its own unit) and a
	# detached one: nothing is left, neither the socket file.
	if [ "$mode" = system ]; then
		g systemd-run -q --unit=spawnd-test-client -p Type=exec \
		    spawnctl run -- sleep 60 || fail "$tag systemd-run client"
	else
		sysns_exec_user "$who" systemd-run --user -q \
		    --unit=spawnd-test-client -p Type=exec \
		    spawnctl run -- sleep 60 || fail "$tag systemd-run client"
	fi
	# (The child must not hold the $(...) pipe: it would wait for it.)
	det=$(run spawnctl run --detach -- sh -c 'exec sleep 60 >/dev/null')
	wait_until 3 status_has "1 connections, 2 children" ||
	    fail "$tag StatusText with children: '$(prop spawnd.service StatusText)'"
	left=$(cgroup_pids | tr '\n' ' ')
	tied=$(g pgrep -f -x 'sleep 60' | grep -vx "$det" | head -n 1)
	assert_contains "$left" "$det" "$tag the detached child in the cgroup"
	assert_contains "$left" "${tied:-none}" "$tag the tied child in the cgroup"
	ms=$(date +%s%N)
	ctl stop spawnd.socket || fail "$tag systemctl stop spawnd.socket"
	ms=$((($(date +%s%N) - ms) / 1000000))
	assert_eq inactive "$(ctl is-active spawnd.service)" \
	    "$tag service stopped with the socket"
	assert_eq inactive "$(ctl is-active spawnd.socket)" "$tag socket stopped"
	assert_eq success "$(prop spawnd.service Result)" "$tag stop result"
	# shellcheck disable=SC2086
	wait_until 3 pids_gone $left ||
	    fail "$tag processes left after stop: $left"
	g test -e "$sock" && fail "$tag socket file left after stop"
	assert_eq "" "$(cgroup_pids)" "$tag the service's cgroup is empty"
	ctl stop spawnd-test-client >/dev/null 2>&1
	ctl reset-failed spawnd-test-client >/dev/null 2>&1
	lap "$tag systemctl stop: no child, no socket file (stop took $ms ms)"
}

# check_watchdog: a SIGSTOPped daemon is killed and restarted.
check_watchdog() {
	local tag="[$mode${who:+ $who}]" pid new

	ctl start spawnd.socket || { fail "$tag start socket"; return; }
	run spawnctl ping >/dev/null || fail "$tag spawnctl ping"
	pid=$(prop spawnd.service MainPID)
	assert_ne 0 "$pid" "$tag MainPID"
	g kill -STOP "$pid"
	lap "$tag SIGSTOP to the daemon (pid $pid, WatchdogSec=${WDOG}s)"
	new_pid() {
		new=$(prop spawnd.service MainPID)
		[ "$new" != 0 ] && [ "$new" != "$pid" ] &&
		    is_state spawnd.service active
	}
	wait_until $((WDOG + 6)) new_pid ||
	    fail "$tag not restarted after $((WDOG + 6)) s"
	assert_ne 0 "$(prop spawnd.service NRestarts)" "$tag NRestarts"
	pid_gone "$pid" || fail "$tag the stopped daemon $pid is still there"
	out=$(run spawnctl run -- echo back)
	assert_eq back "$out" "$tag spawnctl run after the watchdog restart"
	lap "$tag watchdog restart (pid $pid -> $new)"
	ctl stop spawnd.socket
	ctl reset-failed spawnd.service >/dev/null 2>&1
}

mode=system who=root
check_manager
check_watchdog

# The system instance is root's alone.
g systemctl start spawnd.socket
out=$(sysns_exec_user "$TUSER" spawnctl run --socket /run/spawnd/socket \
    -- true 2>&1)
assert_ne 0 "$?" "$TUSER refused by the system instance ($out)"
g systemctl stop spawnd.socket

for who in root "$TUSER"; do
	mode=user
	uid=$(g id -u "$who")
	g systemctl start "user@$uid.service" ||
	    { fail "start user@$uid.service"; continue; }
	st=$(sysns_exec_user "$who" systemctl --user is-system-running --wait)
	assert_eq running "$st" "user manager of $who"
	lap "[user $who] user manager running"
	if [ "$who" = "$TUSER" ]; then
		out=$(sysns_exec_user "$who" systemd-analyze --user verify \
		    --man=no /usr/lib/systemd/user/spawnd.socket \
		    /usr/lib/systemd/user/spawnd.service 2>&1)
		assert_eq 0 "$?" "systemd-analyze --user verify: $out"
	fi
	check_manager
	if [ "$who" = "$TUSER" ]; then
		check_watchdog
	fi
	g systemctl stop "user@$uid.service"
done

lap "done"
if [ "$failures" -ne 0 ] && [ -n "${SYSNS_PID1:-}" ]; then
	echo "--- guest journal (spawnd):" >&2
	g journalctl -b --no-pager -o short-monotonic -u spawnd.service \
	    --user-unit spawnd.service 2>&1 | tail -n 40 >&2
fi
finish
