#!/bin/bash
# spawnctl wrap with Python (nobody here wrote it): os.posix_spawn and
# posix_spawnp with file actions and attributes, os.system,
# subprocess.run(close_fds=False), popen/pclose through libc, the wait
# family (waitpid, wait, wait4's rusage, waitid with WNOHANG and WNOWAIT,
# any-child waits mixing a forked child with brokered ones), SIGCHLD to a
# handler, and a fork()ed child that must not see its parent's children.
# The same script runs unwrapped and wrapped: same output, and every
# spawn brokered.
. "$(dirname "$0")/lib.sh"
wrap_setup
command -v python3 >/dev/null || skip "no python3 (Debian: apt-get install python3)"
python3 -c 'import os; os.posix_spawn' 2>/dev/null ||
    skip "python3 has no os.posix_spawn"
export TMPDIR=$dir
unset XDG_RUNTIME_DIR

cat >"$dir/t.py" <<'EOF'
import ctypes, os, signal, subprocess, sys

out = []
def say(*a):
    out.append(" ".join(str(x) for x in a))

sh = "/bin/sh"
env = dict(os.environ)

# posix_spawn: exit code, a signal, file actions, attributes.
pid = os.posix_spawn(sh, ["sh", "-c", "exit 3"], env)
say("exit", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
pid = os.posix_spawn(sh, ["sh", "-c", "kill -TERM $$"], env)
say("signal", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
path = os.path.join(os.environ["TMPDIR"], "fa.txt")
pid = os.posix_spawn(sh, ["sh", "-c", "echo to-file; echo err >&2"], env,
    file_actions=[(os.POSIX_SPAWN_OPEN, 1, path,
                   os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                  (os.POSIX_SPAWN_DUP2, 1, 2),
                  (os.POSIX_SPAWN_CLOSE, 0)])
os.waitpid(pid, 0)
say("file actions", open(path).read().split())
r, w = os.pipe()
os.set_inheritable(w, True)
pid = os.posix_spawnp("sh", ["sh", "-c", "pwd >&%d" % w],
    env, setsigmask=[signal.SIGUSR1], setsigdef=[signal.SIGPIPE])
os.close(w)
os.waitpid(pid, 0)
say("inherited pipe", os.read(r, 100).decode().strip() == os.getcwd())
os.close(r)
pid = os.posix_spawn("/bin/grep", ["grep", "SigBlk", "/proc/self/status"],
    env, setsigmask=[signal.SIGUSR1], setpgroup=0)
os.waitpid(pid, 0)

# wait4's rusage, waitid WNOWAIT then reap, WNOHANG.
pid = os.posix_spawn(sh, ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"], env)
res = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
say("waitid nowait", res.si_pid == pid, res.si_code == os.CLD_EXITED, res.si_status)
p, st, ru = os.wait4(pid, 0)
say("wait4", p == pid, st, ru.ru_utime + ru.ru_stime > 0)
r, w = os.pipe()
pid = os.posix_spawn(sh, ["sh", "-c", "read x"], env,
    file_actions=[(os.POSIX_SPAWN_DUP2, r, 0)])
say("wnohang", os.waitpid(pid, os.WNOHANG))
say("waitid wnohang", os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG))
os.close(w)
res = os.waitid(os.P_PID, pid, os.WEXITED)
say("waitid", res.si_pid == pid, res.si_code == os.CLD_EXITED, res.si_status)
os.close(r)

# Process groups: waitpid(-pgid), waitid(P_PGID), for a child leading one.
pid = os.posix_spawn(sh, ["sh", "-c", "exit 8"], env, setpgroup=0)
p, st = os.waitpid(-pid, 0)
say("waitpid -pgid", p == pid, os.waitstatus_to_exitcode(st))
pid = os.posix_spawn(sh, ["sh", "-c", "exit 9"], env, setpgroup=0)
res = os.waitid(os.P_PGID, pid, os.WEXITED)
say("waitid P_PGID", res.si_pid == pid, res.si_status)
pid = os.posix_spawn(sh, ["sh", "-c", "exit 10"], env)
p, st = os.waitpid(0, 0)
say("waitpid 0", p == pid, os.waitstatus_to_exitcode(st))

# pidfd_open works on a brokered child; waitid(P_PIDFD) sees it running,
# pidfd_send_signal ends it.
if hasattr(os, "pidfd_open"):
    pid = os.posix_spawn("/bin/sleep", ["sleep", "600"], env)
    fd = os.pidfd_open(pid)
    say("pidfd running", os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG))
    signal.pidfd_send_signal(fd, signal.SIGTERM)
    p, st = os.waitpid(pid, 0)
    say("pidfd signal", p == pid, os.waitstatus_to_exitcode(st))
    os.close(fd)
else:
    say("pidfd running", None)
    say("pidfd signal", True, -15)
    os.posix_spawn(sh, ["sh", "-c", "exit 0"], env)
    os.wait()

# Any child: a forked one and a brokered one, whichever ends first.
r, w = os.pipe()
fpid = os.fork()
if fpid == 0:
    os.close(w)
    os.read(r, 1)
    os._exit(7)
os.close(r)
bpid = os.posix_spawn(sh, ["sh", "-c", "exit 5"], env)
p, st = os.wait()
say("any first", p == bpid, os.waitstatus_to_exitcode(st))
os.close(w)
p, st = os.waitpid(-1, 0)
say("any second", p == fpid, os.waitstatus_to_exitcode(st))
try:
    os.wait()
except ChildProcessError:
    say("any none", "ECHILD")

# SIGCHLD reaches a handler for a brokered child.
got = []
signal.signal(signal.SIGCHLD, lambda s, f: got.append(s))
old = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
pid = os.posix_spawn(sh, ["sh", "-c", "exit 0"], env)
info = signal.sigtimedwait([signal.SIGCHLD], 30)
say("sigchld", info is not None and info.si_signo == signal.SIGCHLD)
os.waitpid(pid, 0)
signal.pthread_sigmask(signal.SIG_SETMASK, old)
signal.signal(signal.SIGCHLD, signal.SIG_DFL)

# A fork()ed child does not see its parent's brokered children.
pid = os.posix_spawn("/bin/sleep", ["sleep", "600"], env)
fpid = os.fork()
if fpid == 0:
    try:
        os.waitpid(pid, os.WNOHANG)
        os._exit(1)
    except ChildProcessError:
        os._exit(0)
say("fork child", os.waitstatus_to_exitcode(os.waitpid(fpid, 0)[1]))
os.kill(pid, signal.SIGTERM)
p, st = os.waitpid(pid, 0)
say("parent reaps", p == pid, os.waitstatus_to_exitcode(st))

# os.system, subprocess with close_fds=False (the posix_spawn path),
# popen/pclose through libc.
say("system", os.waitstatus_to_exitcode(os.system("exit 4")))
r = subprocess.run([sh, "-c", "echo out; echo err >&2; exit 6"],
    capture_output=True, close_fds=False)
say("subprocess", r.returncode, r.stdout, r.stderr)
libc = ctypes.CDLL(None)
libc.popen.restype = ctypes.c_void_p
libc.popen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.pclose.argtypes = [ctypes.c_void_p]
libc.fgets.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
f = libc.popen(b"echo from-popen; exit 2", b"r")
buf = ctypes.create_string_buffer(64)
libc.fgets(buf, 64, f)
say("popen", buf.value, os.waitstatus_to_exitcode(libc.pclose(f)))
print("\n".join(out))
EOF

note "unwrapped"
python3 "$dir/t.py" >"$dir/plain.out" 2>"$dir/plain.err"
assert_eq 0 $? "unwrapped run" || cat "$dir/plain.err" >&2

note "wrapped"
SPAWND_WRAP_DEBUG=1 "$SPAWNCTL" wrap -- sh -c \
    'python3 "$1" && "$2" ping' sh "$dir/t.py" "$SPAWNCTL" \
    >"$dir/wrapped.out" 2>"$dir/wrapped.err"
assert_eq 0 $? "wrapped run" || cat "$dir/wrapped.err" >&2
grep -v -e '^spawnd pid' -e '^round trip' "$dir/wrapped.out" \
    >"$dir/wrapped.cmp"
if ! cmp -s "$dir/plain.out" "$dir/wrapped.cmp"; then
	fail "output differs from the unwrapped run"
	diff "$dir/plain.out" "$dir/wrapped.cmp" >&2
fi
grep -q 'SigBlk:.*200$' "$dir/plain.out" || fail "SigBlk unwrapped"
# 14 posix_spawn, system, subprocess, popen.
assert_eq 17 "$(brokered "$dir/wrapped.err")" "brokered spawns"
assert_eq 17 "$(spawns_of "$dir/wrapped.out")" "daemon's spawn count"
assert_not_contains "$dir/wrapped.err" "spawning directly" "fallback"

# In a container the session's leader is often outside the pid namespace
# and getsid() says 0: children must still join the caller's group (here
# one that a shell with job control made inside the namespace).
if unshare --pid --fork --mount-proc true 2>"$dir/ns.err"; then
	note "wrapped, in a pid namespace that does not hold the session's leader"
	unshare --pid --fork --mount-proc bash -c 'set -m; "$1" wrap -- \
	    python3 "$2"; exit $?' bash "$SPAWNCTL" "$dir/t.py" \
	    >"$dir/ns.out" 2>"$dir/ns.err"
	assert_eq 0 $? "wrapped run in a pid namespace" ||
	    cat "$dir/ns.err" >&2
	if ! cmp -s "$dir/plain.out" "$dir/ns.out"; then
		fail "output in a pid namespace differs from the unwrapped run"
		diff "$dir/plain.out" "$dir/ns.out" >&2
	fi
else
	note "not run in a pid namespace: $(head -n 1 "$dir/ns.err")"
fi

note "no daemon: glibc spawns, one note; SPAWND_WRAP=strict refuses"
cat >"$dir/f.py" <<'EOF'
import os
for i in range(3):
    try:
        pid = os.posix_spawn("/bin/sh", ["sh", "-c", "exit 2"], os.environ)
        print("spawn", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    except OSError as e:
        print("refused", e.errno)
print("system", os.system("exit 3") >> 8)
EOF
SPAWND_SOCKET=$dir/none LD_PRELOAD=$SHIM python3 "$dir/f.py" \
    >"$dir/f.out" 2>"$dir/f.err"
assert_eq 0 $? "fallback run"
assert_eq "spawn 2 spawn 2 spawn 2 system 3" "$(echo $(cat "$dir/f.out"))" \
    "fallback results"
assert_eq 1 "$(grep -c 'spawnd-wrap: cannot reach spawnd.*spawning directly' \
    "$dir/f.err")" "one fallback note"
SPAWND_WRAP=strict SPAWND_SOCKET=$dir/none LD_PRELOAD=$SHIM \
    python3 "$dir/f.py" >"$dir/s.out" 2>"$dir/s.err"
assert_eq "refused 2 refused 2 refused 2 system 127" \
    "$(echo $(cat "$dir/s.out"))" "strict results"
finish
