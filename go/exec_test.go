package spawnd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestOutputAndCombined(t *testing.T) {
	out, err := Command("echo", "hi", "there").Output()
	if err != nil || string(out) != "hi there\n" {
		t.Fatalf("Output: %q, %v", out, err)
	}
	out, err = Command("sh", "-c", "echo out; echo err >&2").
		CombinedOutput()
	if err != nil || string(out) != "out\nerr\n" {
		t.Fatalf("CombinedOutput: %q, %v", out, err)
	}
	// Output keeps stderr for the ExitError.
	_, err = Command("sh", "-c", "echo oops >&2; exit 2").Output()
	var ee *ExitError
	if !errors.As(err, &ee) || string(ee.Stderr) != "oops\n" ||
		ee.ExitCode() != 2 || err.Error() != "exit status 2" {
		t.Fatalf("Output failing: %v", err)
	}
}

func TestStdinReaderAndFiles(t *testing.T) {
	cmd := Command("tr", "a-z", "A-Z")
	cmd.Stdin = strings.NewReader("hello")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil || out.String() != "HELLO" {
		t.Fatalf("%q %v", out.String(), err)
	}
	// An *os.File goes to the child as it is: no pipe, no goroutine.
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd = Command("sh", "-c", "echo one; echo two >&2; "+
		"readlink /proc/self/fd/1")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	if string(b) != "one\ntwo\n"+f.Name()+"\n" {
		t.Fatalf("file got %q", b)
	}
	// No Stdin: /dev/null.
	out.Reset()
	cmd = Command("wc", "-c")
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) !=
		"0" {
		t.Fatalf("%q %v", out.String(), err)
	}
}

func TestPipes(t *testing.T) {
	cmd := Command("sh", "-c", "cat; echo e >&2")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := StdinPipeCheck(cmd); err == nil {
		t.Error("StdinPipe after Start worked")
	}
	io.WriteString(in, "piped")
	in.Close()
	got, _ := io.ReadAll(out)
	gerr, _ := io.ReadAll(stderr)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if string(got) != "piped" || string(gerr) != "e\n" {
		t.Fatalf("%q %q", got, gerr)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("second Wait worked")
	}
	if err := cmd.Start(); err == nil {
		t.Error("second Start worked")
	}
}

// StdinPipeCheck calls StdinPipe on a fresh copy of the Stdin state.
func StdinPipeCheck(c *Cmd) (io.WriteCloser, error) {
	saved := c.Stdin
	c.Stdin = nil
	defer func() { c.Stdin = saved }()
	return c.StdinPipe()
}

func TestEnvAndEnviron(t *testing.T) {
	cmd := Command("env")
	cmd.Env = []string{"A=1", "B=2", "A=3", "NOEQUALS"}
	out, err := cmd.Output()
	if err != nil || string(out) != "A=3\nB=2\n" {
		t.Fatalf("%q %v", out, err)
	}
	t.Setenv("SPAWND_GO_TEST", "yes")
	cmd = Command("env")
	cmd.Dir = "/"
	env := cmd.Environ()
	if !contains(env, "SPAWND_GO_TEST=yes") || !contains(env, "PWD=/") {
		t.Fatalf("Environ: %q", env)
	}
	out, err = cmd.Output()
	if err != nil || !strings.Contains(string(out), "SPAWND_GO_TEST=yes\n") {
		t.Fatalf("%q %v", out, err)
	}
	cmd = Command("true")
	cmd.Env = []string{"A=\x00"}
	if err := cmd.Run(); err == nil {
		t.Error("an env entry with NUL was sent")
	}
}

func contains(v []string, s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

func TestDir(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ = filepath.EvalSymlinks(wd)
	tmp, _ := filepath.EvalSymlinks(t.TempDir())
	for _, c := range []struct{ dir, want string }{
		{"", wd},                 // the caller's, not the daemon's
		{"..", filepath.Dir(wd)}, // relative to the caller's
		{tmp, tmp},               // absolute
	} {
		cmd := Command("pwd", "-P")
		cmd.Dir = c.dir
		out, err := cmd.Output()
		if err != nil || string(out) != c.want+"\n" {
			t.Errorf("Dir %q: %q %v", c.dir, out, err)
		}
	}
	for _, dir := range []string{"/nonexistent-dir", "nonexistent-dir"} {
		cmd := Command("pwd")
		cmd.Dir = dir
		err := cmd.Run()
		var e *Error
		if !errors.As(err, &e) || e.Step != StepChdir ||
			!errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Dir %q: %v", dir, err)
		}
	}
}

func TestExtraFiles(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := Command("sh", "-c", "echo three >&3; echo five >&5; "+
		"ls /proc/$$/fd")
	cmd.ExtraFiles = []*os.File{w, nil, w}
	out, err := cmd.Output()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	if string(got) != "three\nfive\n" {
		t.Errorf("fd 3 and 5 got %q", got)
	}
	// Exactly these, and no fd of the caller or the daemon.
	if strings.Join(strings.Fields(string(out)), " ") != "0 1 2 3 5" {
		t.Errorf("child fds: %q", out)
	}
}

func TestExitStatus(t *testing.T) {
	err := Command("sh", "-c", "exit 3").Run()
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("%v", err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if ee.ExitCode() != 3 || !ee.Exited() || ee.Success() ||
		ws.ExitStatus() != 3 || ee.String() != "exit status 3" ||
		ee.Pid() <= 0 {
		t.Errorf("exit 3: %v %v", ee, ws)
	}
	err = Command("sh", "-c", "kill -KILL $$").Run()
	if !errors.As(err, &ee) {
		t.Fatalf("%v", err)
	}
	ws = ee.Sys().(syscall.WaitStatus)
	if ee.ExitCode() != -1 || ee.Exited() || !ws.Signaled() ||
		ws.Signal() != syscall.SIGKILL || ee.String() != "signal: killed" {
		t.Errorf("killed: %v", ee)
	}
	cmd := Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do "+
		"i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	st := cmd.ProcessState
	ru := st.SysUsage().(*syscall.Rusage)
	if !st.Success() || st.UserTime() <= 0 || ru.Maxrss <= 0 ||
		st.UserTime() != time.Duration(ru.Utime.Nano()) ||
		st.SystemTime() < 0 {
		t.Errorf("usage: user %v sys %v rss %d", st.UserTime(),
			st.SystemTime(), ru.Maxrss)
	}
}

func TestExecFailure(t *testing.T) {
	err := Command("/nonexistent/prog").Run()
	var e *Error
	if !errors.As(err, &e) || e.Step != StepExec ||
		!errors.Is(err, fs.ErrNotExist) || e.Name != "/nonexistent/prog" {
		t.Fatalf("%v", err)
	}
	if err.Error() != `spawnd: "/nonexistent/prog": exec: no such file `+
		`or directory` {
		t.Errorf("message %q", err)
	}
	f := filepath.Join(t.TempDir(), "noexec")
	os.WriteFile(f, []byte("#!/bin/sh\n"), 0644)
	cmd := &Cmd{Path: f, Args: []string{f}}
	err = cmd.Run()
	if !errors.As(err, &e) || e.Err != syscall.EACCES ||
		e.Step != StepExec {
		t.Fatalf("%v", err)
	}
	// A refused request: the connection stays usable.
	c := testClient(t)
	cmd = Command("true")
	cmd.Client = c
	cmd.Rlimits = []Rlimit{{syscall.RLIMIT_NOFILE, 10, 5}}
	err = cmd.Run()
	if !errors.As(err, &e) || e.Step != StepRequest ||
		e.Err != syscall.EINVAL {
		t.Fatalf("%v", err)
	}
	cmd = Command("true")
	cmd.Client = c
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	os.WriteFile(prog, []byte("#!/bin/sh\necho found\n"), 0755)
	os.WriteFile(filepath.Join(dir, "plain"), nil, 0644)
	t.Setenv("PATH", "/nonexistent:"+dir)
	if p, err := LookPath("prog"); err != nil || p != prog {
		t.Errorf("%q %v", p, err)
	}
	if _, err := LookPath("plain"); !errors.Is(err, ErrNotFound) ||
		!errors.Is(err, exec.ErrNotFound) {
		t.Errorf("plain: %v", err)
	}
	if _, err := LookPath(dir + "/plain"); !errors.Is(err,
		fs.ErrPermission) {
		t.Errorf("plain by path: %v", err)
	}
	out, err := Command("prog").Output()
	if err != nil || string(out) != "found\n" {
		t.Errorf("%q %v", out, err)
	}
	cmd := Command("no-such-program-xyz", "a")
	if !errors.Is(cmd.Err, ErrNotFound) || cmd.String() !=
		"no-such-program-xyz a" {
		t.Errorf("Command: %v %q", cmd.Err, cmd.String())
	}
	if err := cmd.Run(); err != cmd.Err {
		t.Errorf("Run: %v", err)
	}
	// Found through ".": ErrDot, with the path.
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	t.Setenv("PATH", ".")
	p, err := LookPath("prog")
	var e *Error
	if p != "prog" || !errors.Is(err, ErrDot) ||
		!errors.Is(err, exec.ErrDot) || !errors.As(err, &e) {
		t.Errorf("dot: %q %v", p, err)
	}
	if cmd := Command("prog"); !errors.Is(cmd.Err, ErrDot) ||
		cmd.Path != "prog" {
		t.Errorf("Command dot: %v", cmd.Err)
	}
	if s := Command("/bin/echo", "x").String(); s != "/bin/echo x" {
		t.Errorf("String %q", s)
	}
}

func TestSignalAndKill(t *testing.T) {
	cmd := sleeper(t, nil, nil)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("%v", err)
	}
	if err := cmd.Process.Kill(); err != os.ErrProcessDone {
		t.Errorf("Kill after Wait: %v", err)
	}
	// A child that is dead but not yet waited for: still not an error
	// in Signal, or ErrProcessDone; never another process.
	cmd = Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Kill(); err != nil &&
		err != os.ErrProcessDone {
		t.Errorf("Kill of an exiting child: %v", err)
	}
	cmd.Wait()
}

func TestCommandContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(),
		50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := CommandContext(ctx, "sleep", "60").Run()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() !=
		syscall.SIGKILL || time.Since(start) > 20*time.Second {
		t.Fatalf("%v", err)
	}
	// Already done: Start refuses.
	if err := CommandContext(ctx, "true").Run(); err !=
		context.DeadlineExceeded {
		t.Errorf("done ctx: %v", err)
	}
	// Cancel of our own: SIGTERM.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cmd := CommandContext(ctx2, "sleep", "60")
	cmd.Cancel = func() error {
		return cmd.Process.Signal(syscall.SIGTERM)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cancel2()
	err = cmd.Wait()
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() !=
		syscall.SIGTERM {
		t.Errorf("Cancel: %v", err)
	}
	// Cancel that makes the child exit 0: Wait reports the context.
	ctx3, cancel3 := context.WithCancel(context.Background())
	cmd = CommandContext(ctx3, "sh", "-c", "trap 'exit 0' TERM; "+
		"echo ready; while :; do sleep 0.01; done")
	cmd.Cancel = func() error {
		return cmd.Process.Signal(syscall.SIGTERM)
	}
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	io.ReadFull(out, buf)
	cancel3()
	if err := cmd.Wait(); err != context.Canceled {
		t.Errorf("clean Cancel: %v", err)
	}
}

func TestWaitDelay(t *testing.T) {
	// The child exits at once, but a grandchild keeps its stdout open.
	cmd := Command("sh", "-c", "sleep 60 & echo bye")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.SysProcAttr = &SysProcAttr{Setsid: true}
	cmd.WaitDelay = 100 * time.Millisecond
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err := cmd.Wait(); err != ErrWaitDelay {
		t.Fatalf("%v", err)
	}
	if out.String() != "bye\n" {
		t.Errorf("%q", out.String())
	}
}

func TestSessionAndGroup(t *testing.T) {
	cmd := sleeper(t, nil, &SysProcAttr{Setsid: true})
	pid := cmd.Process.Pid
	if pg, sid := procStat(t, pid); pg != pid || sid != pid {
		t.Errorf("Setsid: pgrp %d sid %d, pid %d", pg, sid, pid)
	}
	cmd = sleeper(t, nil, &SysProcAttr{Setpgid: true})
	pid = cmd.Process.Pid
	if pg, sid := procStat(t, pid); pg != pid || sid == pid {
		t.Errorf("Setpgid: pgrp %d sid %d, pid %d", pg, sid, pid)
	}
	// Into an existing group.
	cmd2 := sleeper(t, nil, &SysProcAttr{Setpgid: true, Pgid: pid})
	if pg, _ := procStat(t, cmd2.Process.Pid); pg != pid {
		t.Errorf("Pgid %d: pgrp %d", pid, pg)
	}
	// KillGroup without leading a group is refused.
	bad := Command("true")
	bad.SysProcAttr = &SysProcAttr{KillGroup: true}
	var e *Error
	if err := bad.Run(); !errors.As(err, &e) || e.Err != syscall.EINVAL {
		t.Errorf("KillGroup alone: %v", err)
	}
}

func TestTimeoutAndGrace(t *testing.T) {
	cmd := Command("sleep", "60")
	cmd.Timeout = 100 * time.Millisecond
	err := cmd.Run()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() !=
		syscall.SIGTERM {
		t.Fatalf("Timeout: %v", err)
	}
	// SIGTERM ignored: SIGKILL after the grace.
	cmd = Command("sh", "-c", "trap '' TERM; exec sleep 60")
	cmd.Timeout = 100 * time.Millisecond
	cmd.Grace = 100 * time.Millisecond
	err = cmd.Run()
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() !=
		syscall.SIGKILL {
		t.Fatalf("Grace: %v", err)
	}
}

func TestRlimitsAndUmask(t *testing.T) {
	cmd := Command("sh", "-c", "ulimit -n; ulimit -Hn; umask")
	m := uint32(027)
	cmd.Umask = &m
	cmd.Rlimits = []Rlimit{{syscall.RLIMIT_NOFILE, 100, 200}}
	out, err := cmd.Output()
	if err != nil || string(out) != "100\n200\n0027\n" {
		t.Fatalf("%q %v", out, err)
	}
	// By default the child gets the caller's umask, not the daemon's.
	own, err := callerUmask()
	if err != nil {
		t.Fatal(err)
	}
	out, err = Command("sh", "-c", "umask").Output()
	if err != nil || string(out) != fmt.Sprintf("%04o\n", own) {
		t.Fatalf("%q %v (ours %04o)", out, err, own)
	}
}

func TestConcurrent(t *testing.T) {
	clients := []*Client{nil, testClient(t), testClient(t), testClient(t)}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				want := strconv.Itoa(g) + "." + strconv.Itoa(i)
				cmd := Command("echo", want)
				cmd.Client = clients[(g+i)%len(clients)]
				out, err := cmd.Output()
				if err != nil || string(out) != want+"\n" {
					errs <- fmt.Errorf("%s: %q %v", want,
						out, err)
				}
			}
		}(g)
	}
	// Meanwhile: pings and lists on the same connections.
	for _, c := range clients[1:] {
		wg.Add(1)
		go func(c *Client) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := c.Ping(context.Background()); err !=
					nil {
					errs <- err
				}
				if _, err := c.List(context.Background()); err !=
					nil {
					errs <- err
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLargeRequest(t *testing.T) {
	// Six frames (a string may have at most 128 KiB: execve(2)).
	big := strings.Repeat("x", 100000)
	cmd := Command("sh", "-c", `echo $((${#B1}+${#B2}+${#B3})) "$1" $#`,
		"sh", strings.Repeat("y", 100000))
	cmd.Env = []string{"B1=" + big, "B2=" + big, "B3=" + big}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(out.String()); len(f) != 3 || f[0] != "300000" ||
		len(f[1]) != 100000 || f[2] != "1" {
		t.Fatalf("%.80q", out.String())
	}
	// Over the daemon's limit: refused here, before anything is sent.
	c := testClient(t)
	cmd = Command("true")
	cmd.Client = c
	cmd.Env = []string{"BIG=" + strings.Repeat("x", c.maxRequest)}
	var e *Error
	if err := cmd.Run(); !errors.As(err, &e) || e.Err != syscall.E2BIG {
		t.Fatalf("%v", err)
	}
}

func TestPingListKillWatch(t *testing.T) {
	c := testClient(t)
	p, err := c.Ping(context.Background())
	if err != nil || p.Pid != c.DaemonPid() || p.Connections < 1 ||
		p.Spawns < 1 {
		t.Fatalf("%+v %v", p, err)
	}
	cmd := sleeper(t, c, &SysProcAttr{Setpgid: true})
	pid := cmd.Process.Pid
	other := testClient(t)
	list, err := other.List(context.Background())
	found := false
	for _, e := range list {
		if e.Pid == pid {
			found = e.ClientPid == os.Getpid() &&
				e.UID == os.Geteuid() && !e.Detached &&
				!e.Orphan && e.Args == "sleep 60"
		}
	}
	if err != nil || !found {
		t.Fatalf("List: %+v %v", list, err)
	}
	w, err := other.Watch(context.Background(), pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Watch(context.Background(), pid); !errors.Is(err,
		syscall.EALREADY) {
		t.Errorf("second Watch: %v", err)
	}
	if err := other.KillPid(pid, syscall.SIGUSR1, true); err != nil {
		t.Fatal(err)
	}
	st, err := w.Wait()
	if err != nil || st.Sys().(syscall.WaitStatus).Signal() !=
		syscall.SIGUSR1 || st.Pid() != pid {
		t.Fatalf("Watch: %v", st)
	}
	if err := other.KillPid(os.Getpid(), syscall.SIGTERM, false); !errors.Is(
		err, syscall.ESRCH) {
		t.Errorf("KillPid of a stranger: %v", err)
	}
	if _, err := other.Watch(context.Background(), os.Getpid()); !errors.Is(
		err, syscall.ESRCH) {
		t.Errorf("Watch of a stranger: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Ping(ctx); err != context.Canceled {
		t.Errorf("Ping, cancelled: %v", err)
	}
}

func TestDetachAndLifetime(t *testing.T) {
	watcher := testClient(t)
	a, err := Dial(testSocket, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	det := Command("sleep", "60")
	det.Client, det.Detach = a, true
	tied := Command("sleep", "60")
	tied.Client = a
	if err := det.Start(); err != nil {
		t.Fatal(err)
	}
	if err := tied.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := watcher.Watch(context.Background(), tied.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	// The tied child is stopped; the detached one runs on.
	if st, _ := w.Wait(); st == nil ||
		st.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("tied child: %v", st)
	}
	if _, err := tied.Process.Wait(); err == nil {
		t.Error("Wait on a closed connection worked")
	}
	pid := det.Process.Pid
	list, _ := watcher.List(context.Background())
	ok := false
	for _, e := range list {
		if e.Pid == pid {
			ok = e.Detached && e.Orphan && e.ClientPid == 0
		}
	}
	if !ok {
		t.Fatalf("detached child not listed: %+v", list)
	}
	if err := watcher.KillPid(pid, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
}

func TestSocketPath(t *testing.T) {
	t.Setenv("SPAWND_SOCKET", "/x/sock")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/7")
	if p := SocketPath(); p != "/x/sock" {
		t.Error(p)
	}
	t.Setenv("SPAWND_SOCKET", "")
	if p := SocketPath(); p != "/run/user/7/spawnd/socket" {
		t.Error(p)
	}
	t.Setenv("XDG_RUNTIME_DIR", "relative")
	want := "/run/spawnd/socket"
	if os.Geteuid() != 0 {
		want = fmt.Sprintf("/tmp/spawnd-%d/socket", os.Geteuid())
	}
	if p := SocketPath(); p != want {
		t.Error(p)
	}
	os.Unsetenv("XDG_RUNTIME_DIR")
	if p := SocketPath(); p != want {
		t.Error(p)
	}
	if _, err := Dial(filepath.Join(t.TempDir(), "none"), time.Second); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Dial of nothing: %v", err)
	}
}

// ownDaemon starts a daemon of the test's own with args, stopped at the
// end, and returns a connection to it.
func ownDaemon(t *testing.T, args ...string) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "socket")
	d := exec.Command(daemonBin, append([]string{"--socket", sock},
		args...)...)
	d.Stderr = os.Stderr
	d.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Process.Signal(syscall.SIGTERM)
		d.Wait()
	})
	var c *Client
	var err error
	for i := 0; i < 1000; i++ {
		if c, err = Dial(sock, time.Second); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The daemon sends STARTED before the exec (EXEC_FD) unless it waits for
// every exec itself (--launch async or vfork, or a daemon built without
// the raw system calls of x86_64 and aarch64); either way a spawn is a
// start, and every failure up to the exec comes with its errno and step.
func TestEarlyStarted(t *testing.T) {
	for _, launch := range []string{"", "async", "vfork"} {
		var c *Client
		if launch == "" {
			c = testClient(t)
		} else {
			c = ownDaemon(t, "--launch", launch)
		}
		cmd := Command("echo", "started")
		cmd.Client = c
		if out, err := cmd.Output(); err != nil ||
			string(out) != "started\n" {
			t.Fatalf("launch %q: %q %v", launch, out, err)
		}
		want := execFDAsk // asked for, not granted
		if launch == "" && (runtime.GOARCH == "amd64" ||
			runtime.GOARCH == "arm64") {
			want = execFDYes
		}
		if execFDOf(c) != want {
			t.Errorf("launch %q: state %d, not %d", launch,
				execFDOf(c), want)
		}
		for _, f := range []struct {
			path, dir string
			err       syscall.Errno
			step      Step
		}{
			{"/nonexistent/prog", "", syscall.ENOENT, StepExec},
			{"/bin/true", "/nonexistent/dir", syscall.ENOENT,
				StepChdir},
			{"/dev/null", "", syscall.EACCES, StepExec},
		} {
			cmd := &Cmd{Path: f.path, Args: []string{f.path},
				Dir: f.dir, Client: c}
			var e *Error
			if err := cmd.Run(); !errors.As(err, &e) ||
				e.Err != f.err || e.Step != f.step ||
				e.Index != -1 {
				t.Errorf("launch %q: %s in %q: %v", launch,
					f.path, f.dir, err)
			}
		}
		// Start returns once the child has exec'd: a kill at once
		// reaches the program.
		cmd = Command("sleep", "60")
		cmd.Client = c
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmd.Process.Kill()
		if err := cmd.Wait(); err == nil ||
			cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() !=
				syscall.SIGKILL {
			t.Errorf("launch %q: killed: %v", launch, err)
		}
		if c.Err() != nil || execFDOf(c) != want {
			t.Errorf("launch %q: %v, state %d", launch, c.Err(),
				execFDOf(c))
		}
	}
}
