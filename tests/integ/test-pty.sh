#!/bin/bash
#
# test-pty: spawnctl run --pty in a real terminal.
#
# A private tmux server (its socket in the test's directory) runs a bash
# in an 80x24 pane; the test types into it with send-keys and reads the
# screen with capture-pane, always polling for an expected text or state
# (bounded), never sleeping for a fixed time.  In the pane, spawnctl runs
# an interactive bash with a pty of its own: it gets a prompt, `tty` names
# a pty other than the pane's, `stty size` follows a resize of the window,
# Ctrl-C, Ctrl-Z (jobs, fg) and Ctrl-\ act on its jobs, less draws full
# screen and quits, `exit 3` and a SIGTERM come back as spawnctl's status;
# the pane's terminal settings (`stty -g`) are the same after it, and after
# SIGTERM or SIGHUP to spawnctl, or its daemon's death, and while SIGTSTP
# has it stopped (raw again once continued).  The default: a pty at a
# terminal, not in the background.  Before all that, without a terminal:
# no pty by default, one with --pty.  Skips only without tmux.

. "$(dirname "$0")/lib.sh"

setup
start_daemon

note "without a terminal"
out=$("$SPAWNCTL" run -- sh -c 'tty; exit 4' </dev/null 2>&1)
assert_eq "4 not a tty" "$? $out" "no pty by default without a terminal"
out=$("$SPAWNCTL" run --pty -- sh -c 'tty; ps -o sid=,tpgid= -p $$' \
    </dev/null 2>&1 | tr -d '\r')
case $out in
/dev/pts/[0-9]*) ;;
*) fail "--pty without a terminal: '$out'" ;;
esac
read -r sid tpgid <<<"${out#*$'\n'}"
assert_eq "$sid" "$tpgid" "--pty: the child's group is the foreground one"
out=$(printf 'echo in-$((6*7))\n' | "$SPAWNCTL" run --pty -- sh 2>&1)
assert_contains "$out" "in-42" "--pty copies a pipe's input"
"$SPAWNCTL" run --pty --detach -- true </dev/null 2>/dev/null
assert_eq 2 "$?" "--pty with --detach is a usage error"

command -v tmux >/dev/null ||
    skip "no tmux (Debian: apt-get install tmux)"

export TMUX_TMPDIR=$dir
unset TMUX TMUX_PANE
tm() {
	tmux -L spawnd-test -f /dev/null "$@"
}
trap 'rc=$?; tm kill-server >/dev/null 2>&1; (exit $rc); cleanup' EXIT

# The pane's shell: nothing of ours but PATH, a prompt, the socket and
# spawnctl as $SC.
cat >"$dir/outer.sh" <<EOF
exec env -i PATH="$PATH" HOME="$dir" TERM=screen LC_ALL=C \
    SPAWND_SOCKET="$sock" SC="$SPAWNCTL" PS1='OUT\$ ' \
    bash --norc --noprofile
EOF
tm new-session -d -s t -x 80 -y 24 "bash $dir/outer.sh" ||
    { fail "tmux new-session"; finish; }
pane=t:0.0
server_pid=$(tm display -p -t "$pane" '#{pid}')
outer_pid=$(tm display -p -t "$pane" '#{pane_pid}')
pane_tty=$(tm display -p -t "$pane" '#{pane_tty}')

send() {
	tm send-keys -t "$pane" "$@"
}

# wait_screen TEXT: poll the pane (10 s) until TEXT is on it.  Without
# it the pane is in no known state: the test ends there.
wait_screen() {
	local i
	for ((i = 0; i < 200; i++)); do
		tm capture-pane -p -t "$pane" | grep -qF -- "$1" && return 0
		sleep 0.05
	done
	fail "'$1' never appeared; the pane shows:"
	tm capture-pane -p -t "$pane" | sed 's/^/| /' >&2
	finish
}

# mark: a command whose output differs from its echo, run to its end.
n=0
mark() {
	n=$((n + 1))
	send "echo K$n-\$((1000+$n))" Enter
	wait_screen "K$n-$((1000 + n))"
}

# wait_child NAME: the pid of inner bash's child NAME, once it runs.
wait_child() {
	local i p
	for ((i = 0; i < 200; i++)); do
		p=$(pgrep -P "$ipid" -x "$1") && { echo "$p"; return 0; }
		sleep 0.05
	done
	echo "no $1 started" >&2
	return 1
}

# gone NAME: poll (10 s) until the pane's or the inner shell's child NAME
# has exited: keys typed meanwhile would be its input (and lost).
gone() {
	local i
	for ((i = 0; i < 200; i++)); do
		pgrep -P "$outer_pid${ipid:+,$ipid}" -x "$1" >/dev/null ||
		    return 0
		sleep 0.05
	done
	fail "$1 still runs"
	return 1
}

# state PID: the one-letter state from /proc/PID/stat.
state() {
	local l
	l=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	l=${l##*) }
	echo "${l%% *}"
}

# wait_state PID STATE: poll (10 s) until PID is (or, with !S, is not) in S.
wait_state() {
	local i s
	for ((i = 0; i < 200; i++)); do
		s=$(state "$1")
		case $2 in
		!*) [ "$s" != "${2#!}" ] && return 0 ;;
		*) [ "$s" = "$2" ] && return 0 ;;
		esac
		sleep 0.05
	done
	fail "pid $1 in state '$s', expected $2"
	return 1
}

wait_screen 'OUT$' || finish
# Settings of the pane's own (not a new pty's), for the pty to copy.
send "stty erase ^H -ixany iutf8; stty -g > $dir/stty-before" Enter
mark

note "an interactive shell with a pty of its own"
send "\$SC run --pty --env 'PS1=IN\$ ' -- bash --norc --noprofile -i" Enter
wait_screen 'IN$' || finish
send "echo \$\$ > $dir/inner-pid; tty > $dir/inner-tty" Enter
send "stty size > $dir/size; stty -g > $dir/stty-inner" Enter
mark
ipid=$(cat "$dir/inner-pid")
inner_tty=$(cat "$dir/inner-tty")
case $inner_tty in
/dev/pts/[0-9]*) ;;
*) fail "tty in the pty: '$inner_tty'" ;;
esac
assert_ne "$pane_tty" "$inner_tty" "the child's tty is not the pane's"
assert_eq "24 80" "$(cat "$dir/size")" "stty size at the start"
assert_eq "$(cat "$dir/stty-before")" "$(cat "$dir/stty-inner")" \
    "the pty's settings start as the pane's"
# Fields 6-8 of stat: session, tty_nr, tpgid.
read -r -a st <<<"$(sed 's/.*) //' "/proc/$ipid/stat")"
assert_eq "$ipid" "${st[3]}" "the shell leads its session"
assert_ne 0 "${st[4]}" "the shell has a controlling terminal"
assert_eq "$ipid" "${st[5]}" "the shell's group is in the foreground"

note "stty size follows the window"
tm resize-window -t "$pane" -x 100 -y 30
for ((i = 0; i < 50; i++)); do
	send "stty size > $dir/size" Enter
	mark
	[ "$(cat "$dir/size")" = "30 100" ] && break
done
assert_eq "30 100" "$(cat "$dir/size")" "stty size after resize-window"

note "Ctrl-C"
send "sleep 100" Enter
spid=$(wait_child sleep) || { fail "no sleep"; finish; }
send C-c
wait_pid_gone "$spid" 10 || { fail "Ctrl-C did not end sleep"; finish; }
mark

note "Ctrl-Z, jobs, fg"
send "sleep 100" Enter
spid=$(wait_child sleep) || { fail "no sleep"; finish; }
send C-z
wait_state "$spid" T
wait_screen Stopped
send "jobs > $dir/jobs" Enter
mark
assert_contains "$dir/jobs" "Stopped" "jobs shows the stopped job"
send fg Enter
wait_state "$spid" '!T'
send C-c
wait_pid_gone "$spid" 10 || fail "Ctrl-C after fg did not end sleep"
mark

note "Ctrl-\\"
send "sleep 100" Enter
spid=$(wait_child sleep) || { fail "no sleep"; finish; }
send 'C-\'
wait_pid_gone "$spid" 10 || fail "Ctrl-\\ did not end sleep"
wait_screen Quit
mark

if command -v less >/dev/null; then
	note "less, full screen"
	seq -f 'row-%g' 1 200 >"$dir/rows"
	send "less $dir/rows" Enter
	# 30 lines: 29 rows and less's prompt.
	wait_screen row-29
	if tm capture-pane -p -t "$pane" | grep -q 'row-30$'; then
		fail "less drew past the window"
	fi
	send q
	gone less
	mark
else
	note "no less: the full-screen case is left out"
fi

note "exit code and terminal settings"
send "exit 3" Enter
gone spawnctl
send "echo rc=\$?; stty -g > $dir/stty-after" Enter
wait_screen "rc=3"
mark
assert_eq "$(cat "$dir/stty-before")" "$(cat "$dir/stty-after")" \
    "the pane's stty -g after the session"

note "a signal's status; SIGTERM and SIGHUP to spawnctl"
send "\$SC run --pty -- sh -c 'kill -TERM \$\$'; echo a=\$?" Enter
wait_screen "a=143"
gone spawnctl
# Under a plain sh, which (unlike an interactive bash) puts back no
# terminal settings of its own when its command is stopped or killed:
# what stty shows then is what spawnctl left.
# sig_run SIG: spawnctl --pty running sleep, in sh, sent SIG.
sig_run() {
	local i spid= line

	line="sh -c '\$SC run --pty -- sleep 100; echo \$? > $dir/rc;"
	send "$line stty -g > $dir/stty-sig'; echo $1=\$((100+1))" Enter
	# Once the daemon's sleep runs, spawnctl waits for it.
	for ((i = 0; i < 200; i++)); do
		spid=$(pgrep -P "$daemon_pid" -x sleep) && break
		sleep 0.05
	done
	cpid=$(pgrep -s "$outer_pid" -x spawnctl) ||
	    { fail "no spawnctl for SIG$1"; finish; }
	[ "$1" = TSTP ] || [ "$1" = KILL-DAEMON ] && return
	kill -"$1" "$cpid"
	wait_screen "$1=101"
	wait_pid_gone "$spid" 10 || fail "sleep still there after SIG$1"
}

for sig in TERM:143 HUP:129; do
	sig_run "${sig%:*}"
	assert_eq "${sig#*:}" "$(cat "$dir/rc")" "status after SIG${sig%:*}"
	assert_eq "$(cat "$dir/stty-before")" "$(cat "$dir/stty-sig")" \
	    "the pane's stty -g after SIG${sig%:*}"
done

note "SIGTSTP to spawnctl: stopped with the terminal restored"
sig_run TSTP
kill -TSTP "$cpid"
wait_state "$cpid" T
assert_eq "$(cat "$dir/stty-before")" "$(stty -g <"$pane_tty")" \
    "the pane's stty -g while spawnctl is stopped"
kill -CONT "$cpid"
for ((i = 0; i < 200; i++)); do
	[ "$(stty -g <"$pane_tty")" != "$(cat "$dir/stty-before")" ] && break
	sleep 0.05
done
assert_ne "$(cat "$dir/stty-before")" "$(stty -g <"$pane_tty")" \
    "raw again once continued"
kill -TERM "$cpid"
wait_screen "TSTP=101"
assert_eq "$(cat "$dir/stty-before")" "$(cat "$dir/stty-sig")" \
    "the pane's stty -g after the continued session"

note "the default: a pty when stdin and stdout are terminals"
send "\$SC run -- sh -c 'tty > $dir/auto'; echo b=\$((6*7))" Enter
wait_screen b=42
send "\$SC run --no-pty -- sh -c 'tty > $dir/nopty'; echo c=\$((6*8))" Enter
wait_screen c=48
# In the background ("&") no pty: it would stop spawnctl (SIGTTOU).
send "\$SC run -- sh -c 'tty > $dir/bg' & wait; echo d=\$((6*9))" Enter
wait_screen d=54
auto=$(cat "$dir/auto")
case $auto in
/dev/pts/[0-9]*) assert_ne "$pane_tty" "$auto" "a pty by default" ;;
*) fail "tty by default: '$auto'" ;;
esac
assert_eq "$pane_tty" "$(cat "$dir/nopty")" "--no-pty: the pane's tty"
assert_eq "$pane_tty" "$(cat "$dir/bg")" "in the background: the pane's tty"

note "an error: the daemon goes away"
sig_run KILL-DAEMON
kill -KILL "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=
wait_screen "KILL-DAEMON=101"
assert_eq 125 "$(cat "$dir/rc")" "status when the daemon is gone"
assert_eq "$(cat "$dir/stty-before")" "$(cat "$dir/stty-sig")" \
    "the pane's stty -g after the error"

note "nothing left behind"
tm kill-server
wait_pid_gone "$server_pid" 10 || fail "tmux server still there"
wait_pid_gone "$outer_pid" 10 || fail "the pane's shell still there"
wait_pid_gone "$ipid" 10 || fail "the inner shell still there"
for ((i = 0; i < 200; i++)); do
	left=$(pgrep -s "$outer_pid,$ipid")
	[ -z "$left" ] && break
	sleep 0.05
done
assert_eq "" "$left" "processes left in the pane's or the pty's session"
finish
