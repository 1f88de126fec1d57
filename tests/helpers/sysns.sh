# shellcheck shell=bash
# sysns.sh: boots this machine's systemd as PID 1 of private namespaces, on
# a throw-away overlay of the host's root, for tests/integ/test-systemd.sh
# (real socket activation, sd_notify, watchdog, user managers) without a
# VM, a container manager, or a systemd running on the host.  Source it:
#
#	sysns_boot		boots; sets SYSNS_PID1 (the host pid of the
#				guest's systemd) and SYSNS_SHARED (a host
#				directory, /run/sysns in the guest).  Not in
#				a subshell: the variables would be lost.
#	sysns_exec CMD...	runs CMD in the guest as root, env -i
#	sysns_exec_user U CMD...  as user U, with XDG_RUNTIME_DIR and
#				DBUS_SESSION_BUS_ADDRESS of U's user manager
#	sysns_teardown		powers the guest off (SIGRTMIN+4), kills its
#				PID 1 by pid if it hangs, removes the cgroup
#				and the work directory.  Call it from an
#				EXIT trap.
#
# Needs: root with CAP_SYS_ADMIN (a VM or a bare machine; not a chroot
# whose / is not a mount point), a kernel with overlayfs, cgroup2 and pid,
# mount and cgroup namespaces; the Debian packages util-linux and bsdutils
# (unshare, nsenter, setpriv, findmnt, script), systemd, and for user
# managers dbus, dbus-user-session and libpam-systemd.  sysns_needs prints
# the missing ones.
#
# The guest's root is an overlay of "/" with a tmpfs upper layer: nothing
# it writes reaches the host.  It gets its own /proc, a read-only /sys and
# /proc/sys, its own cgroup namespace (a cgroup of its own, removed at the
# end), tmpfs /run, /tmp and a minimal /dev, and private net, uts and ipc
# namespaces.  All its mounts live in its mount namespace.  It boots
# sysns-boot.target (sysinit and sockets only: no getty, no network).
# Its whole life is bounded by SYSNS_MAXLIFE seconds (timeout -s KILL
# around unshare --kill-child), and a watcher kills its PID 1 if the
# shell that booted it dies first.  SYSNS_KEEP=1 keeps the work directory
# (console.log: systemd's console; journal.txt: the guest's journal).

SYSNS_MAXLIFE=${SYSNS_MAXLIFE:-900}
SYSNS_BOOT_TIMEOUT=${SYSNS_BOOT_TIMEOUT:-90}
SYSNS_CMD_TIMEOUT=${SYSNS_CMD_TIMEOUT:-60}
SYSNS_STOP_TIMEOUT=${SYSNS_STOP_TIMEOUT:-30}
SYSNS_SYSTEMD=${SYSNS_SYSTEMD:-/lib/systemd/systemd}
SYSNS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SYSNS_W= SYSNS_PID1= SYSNS_SHARED= SYSNS_CG= SYSNS_WRAP= SYSNS_WATCH=

# sysns_say MESSAGE: to stderr.
sysns_say() {
	echo "sysns: $*" >&2
}

# sysns_needs: prints the Debian packages this harness lacks (none: empty).
sysns_needs() {
	local need=
	[ -x "$SYSNS_SYSTEMD" ] || need="$need systemd"
	command -v dbus-daemon >/dev/null || need="$need dbus"
	[ -e /usr/lib/systemd/user/dbus.socket ] ||
	    [ -e /lib/systemd/user/dbus.socket ] || need="$need dbus-user-session"
	ls /lib/*/security/pam_systemd.so /usr/lib/*/security/pam_systemd.so \
	    >/dev/null 2>&1 || need="$need libpam-systemd"
	for c in unshare nsenter setpriv findmnt; do
		command -v "$c" >/dev/null || { need="$need util-linux"; break; }
	done
	command -v script >/dev/null || need="$need bsdutils"
	echo "${need# }"
}

# The guest's first process.  phase1 runs as PID 1 of the new pid, mount,
# uts, ipc and net namespaces: it tells the host its pid, moves into the
# guest's cgroup, and enters a new cgroup namespace rooted there (phase2),
# which builds the root and execs systemd.
sysns_write_init() {
	cat >"$1" <<'EOF'
#!/bin/sh
set -eu
W=$2
if [ "$1" = phase1 ]; then
	while read -r k v _; do
		[ "$k" = NSpid: ] && echo "$v" >"$W/pid1.new"
	done </proc/self/status
	mv "$W/pid1.new" "$W/pid1"
	echo 0 >"$3/cgroup.procs"
	exec unshare --cgroup "$0" phase2 "$W"
fi
mount --make-rprivate /
mount -t tmpfs -o mode=755 sysns "$W/layers"
R=$W/layers/root
mkdir -p "$W/layers/up/0" "$W/layers/work/0" "$R"
mount -t overlay overlay \
    -o "lowerdir=/,upperdir=$W/layers/up/0,workdir=$W/layers/work/0" "$R"
# Real file systems below / (a separate /usr, /var, /home): overlays too.
n=0
findmnt -rn -o TARGET,FSTYPE | while read -r dir fs; do
	case $dir in
	/|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/run|/run/*|/tmp|/tmp/*) continue ;;
	*\\*) continue ;;
	esac
	case $fs in
	ext[234]|xfs|btrfs|f2fs|overlay|vfat|squashfs|erofs) ;;
	*) continue ;;
	esac
	[ -d "$R$dir" ] || continue
	n=$((n + 1))
	mkdir -p "$W/layers/up/$n" "$W/layers/work/$n"
	mount -t overlay overlay -o \
	    "lowerdir=$dir,upperdir=$W/layers/up/$n,workdir=$W/layers/work/$n" \
	    "$R$dir" || true
done
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
mount -t tmpfs -o mode=755,nosuid sysns-dev "$R/dev"
for d in null zero full random urandom tty; do
	touch "$R/dev/$d"
	mount --bind "/dev/$d" "$R/dev/$d"
done
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts \
    "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
for i in 0:stdin 1:stdout 2:stderr; do
	ln -s "/proc/self/fd/${i%%:*}" "$R/dev/${i#*:}"
done
# The console is script(1)'s pty: systemd's console output is logged.
if tty=$(tty 2>/dev/null); then
	touch "$R/dev/console"
	mount --bind "$tty" "$R/dev/console"
fi
mkdir -p "$R/run/sysns"
mount --bind "$W/shared" "$R/run/sysns"
mkdir -p "$R/etc/systemd/system"
cp "$W/sysns-boot.target" "$R/etc/systemd/system/"
tr -d '-' </proc/sys/kernel/random/uuid >"$R/etc/machine-id"
cd "$R"
mkdir -p .sysns-old
pivot_root . .sysns-old
cd /
umount -l /.sysns-old
rmdir /.sysns-old
exec setpriv --bounding-set -sys_module,-sys_time,-sys_rawio,-syslog,-wake_alarm \
    -- env -i container=sysns PATH="$SYSNS_PATH" TERM=dumb \
    "$SYSNS_SYSTEMD" --unit=sysns-boot.target --show-status=yes \
    --log-color=no
EOF
	chmod 755 "$1"
}

# sysns_boot: see the head comment.  Returns 0, or 1 with the reason said.
sysns_boot() {
	local cg2 i deadline st
	[ "$(id -u)" = 0 ] || { sysns_say "needs root"; return 1; }
	[ -z "$(sysns_needs)" ] ||
	    { sysns_say "missing packages: $(sysns_needs)"; return 1; }
	cg2=$(findmnt -rn -t cgroup2 -o TARGET | head -n 1)
	[ -n "$cg2" ] || { sysns_say "no cgroup2 mounted"; return 1; }
	SYSNS_W=$(mktemp -d "${TMPDIR:-/tmp}/sysns.XXXXXX") || return 1
	SYSNS_SHARED=$SYSNS_W/shared
	mkdir -p "$SYSNS_W/layers" "$SYSNS_SHARED"
	sysns_write_init "$SYSNS_W/init"
	cat >"$SYSNS_W/sysns-boot.target" <<'EOF'
[Unit]
Description=sysns test boot target
Wants=sysinit.target sockets.target
After=sysinit.target sockets.target
AllowIsolate=yes
EOF
	SYSNS_CG=$cg2/sysns-$$-${SYSNS_W##*.}
	mkdir "$SYSNS_CG" || { sysns_say "cannot make $SYSNS_CG"; return 1; }
	SHELL=/bin/sh SYSNS_PATH=$SYSNS_PATH SYSNS_SYSTEMD=$SYSNS_SYSTEMD \
	    script -qefc "exec timeout -s KILL $SYSNS_MAXLIFE unshare --pid \
	    --fork --kill-child --mount --uts --ipc --net --propagation private \
	    $SYSNS_W/init phase1 $SYSNS_W $SYSNS_CG" /dev/null </dev/null \
	    >"$SYSNS_W/console.log" 2>&1 &
	SYSNS_WRAP=$!
	for ((i = 0; i < 600; i++)); do
		[ -s "$SYSNS_W/pid1" ] && break
		kill -0 "$SYSNS_WRAP" 2>/dev/null || break
		sleep 0.05
	done
	SYSNS_PID1=$(cat "$SYSNS_W/pid1" 2>/dev/null)
	if [ -z "$SYSNS_PID1" ]; then
		cat "$SYSNS_W/console.log" >&2
		# unshare's own reason, e.g. in a chroot whose / is not a mount.
		sysns_say "the guest's init did not start: $(tr -d '\r' \
		    <"$SYSNS_W/console.log" | sed '/^$/d' | tail -n 1)"
		return 1
	fi
	# If our shell dies without a teardown, the guest goes too.
	( trap '' HUP INT
	  while kill -0 $$ 2>/dev/null && kill -0 "$SYSNS_PID1" 2>/dev/null; do
		sleep 1
	  done
	  kill -0 $$ 2>/dev/null || kill -KILL "$SYSNS_PID1" 2>/dev/null
	) </dev/null >/dev/null 2>&1 &
	SYSNS_WATCH=$!
	deadline=$((SECONDS + SYSNS_BOOT_TIMEOUT))
	until [ -S "/proc/$SYSNS_PID1/root/run/systemd/private" ]; do
		if ! kill -0 "$SYSNS_PID1" 2>/dev/null; then
			cat "$SYSNS_W/console.log" >&2
			sysns_say "systemd exited while booting"
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			sysns_say "no manager after ${SYSNS_BOOT_TIMEOUT}s"
			return 1
		fi
		sleep 0.05
	done
	st=$(sysns_exec_t $((deadline - SECONDS + 1)) \
	    systemctl is-system-running --wait 2>&1)
	case $st in
	running) ;;
	degraded)
		sysns_exec systemctl --failed --no-pager --plain >&2
		;;
	*)
		cat "$SYSNS_W/console.log" >&2
		sysns_say "the boot did not finish: $st"
		return 1
		;;
	esac
}

# sysns_exec_t SECONDS CMD...: sysns_exec with its own time bound.
sysns_exec_t() {
	local t=$1
	shift
	timeout -s KILL "$t" nsenter -t "$SYSNS_PID1" -m -u -i -n -p -C -r -w \
	    env -i PATH="$SYSNS_PATH" TERM=dumb SYSTEMD_PAGER= \
	    SYSTEMD_COLORS=0 LANG=C.UTF-8 "$@"
}

sysns_exec() {
	sysns_exec_t "$SYSNS_CMD_TIMEOUT" "$@"
}

sysns_exec_user() {
	local u=$1 uid gid
	shift
	uid=$(sysns_exec id -u "$u") && gid=$(sysns_exec id -g "$u") ||
	    return 1
	sysns_exec setpriv --reuid="$uid" --regid="$gid" --init-groups \
	    env XDG_RUNTIME_DIR="/run/user/$uid" \
	    DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" "$@"
}

sysns_teardown() {
	local i
	[ -n "$SYSNS_W" ] || return 0
	if [ -n "$SYSNS_PID1" ] && kill -0 "$SYSNS_PID1" 2>/dev/null; then
		[ "${SYSNS_KEEP:-0}" = 1 ] && sysns_exec_t 10 journalctl -b \
		    --no-pager -o short-monotonic >"$SYSNS_W/journal.txt" 2>&1
		kill -s RTMIN+4 "$SYSNS_PID1" 2>/dev/null
		for ((i = 0; i < SYSNS_STOP_TIMEOUT * 20; i++)); do
			kill -0 "$SYSNS_PID1" 2>/dev/null || break
			sleep 0.05
		done
		# SIGKILL to PID 1 takes the whole pid namespace down.
		kill -0 "$SYSNS_PID1" 2>/dev/null &&
		    { sysns_say "poweroff timed out: SIGKILL";
		      kill -KILL "$SYSNS_PID1" 2>/dev/null; }
	fi
	if [ -n "$SYSNS_WRAP" ]; then
		for ((i = 0; i < 200; i++)); do
			kill -0 "$SYSNS_WRAP" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$SYSNS_WRAP" 2>/dev/null
		wait "$SYSNS_WRAP" 2>/dev/null
	fi
	if [ -n "$SYSNS_WATCH" ]; then
		kill "$SYSNS_WATCH" 2>/dev/null
		wait "$SYSNS_WATCH" 2>/dev/null
	fi
	# The emptied cgroup tree, deepest first; the kernel may lag a little.
	if [ -n "$SYSNS_CG" ]; then
		for ((i = 0; i < 100; i++)); do
			[ -d "$SYSNS_CG" ] || break
			find "$SYSNS_CG" -depth -type d -exec rmdir {} \; \
			    2>/dev/null
			[ -d "$SYSNS_CG" ] && sleep 0.05
		done
		[ -d "$SYSNS_CG" ] && sysns_say "could not remove $SYSNS_CG"
	fi
	if [ "${SYSNS_KEEP:-0}" = 1 ]; then
		sysns_say "kept $SYSNS_W"
	else
		rm -rf --one-file-system "$SYSNS_W"
	fi
	SYSNS_W= SYSNS_PID1= SYSNS_CG= SYSNS_WRAP= SYSNS_WATCH=
	return 0
}
