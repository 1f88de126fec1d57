package spawnd

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A daemon of another uid is refused before anything is sent to it.
func TestPeerOtherUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a daemon as another uid")
	}
	const nobody = 65534
	dir, err := os.MkdirTemp("", "spawnd-nobody.")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "socket")
	d := exec.Command(daemonBin, "--socket", sock)
	d.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: nobody, Gid: nobody}, Pdeathsig: syscall.SIGKILL}
	if err := d.Start(); err != nil {
		t.Skipf("cannot run the daemon as uid %d: %v", nobody, err)
	}
	defer func() {
		d.Process.Kill()
		d.Wait()
	}()
	for i := 0; i < 1000; i++ {
		var c *Client
		if c, err = Dial(sock, time.Second); err == nil {
			c.Close()
			break
		}
		if errors.Is(err, syscall.EPERM) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(),
		sock) || !strings.Contains(err.Error(), "uid 65534") {
		t.Fatalf("a daemon of uid %d: %v", nobody, err)
	}
}

// fakeDaemon answers HELLO and one SPAWN with STARTED naming pid and
// carrying fd, then EXITED; it runs in this process, so SO_PEERCRED
// names this process.
func fakeDaemon(t *testing.T, pid, fd int) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "fake")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock,
		Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		le := binary.LittleEndian
		buf := make([]byte, 65536)
		reply := func(typ uint16, id uint32, p []byte, fds ...int) {
			h := append(header(typ, 0, len(p), len(fds), id), p...)
			var oob []byte
			if len(fds) > 0 {
				oob = syscall.UnixRights(fds...)
			}
			c.WriteMsgUnix(h, oob, nil)
		}
		for {
			n, _, _, _, err := c.ReadMsgUnix(buf, make([]byte, 4096))
			if err != nil || n < hdrSize {
				return
			}
			id := le.Uint32(buf[16:])
			switch le.Uint16(buf[4:]) {
			case tHello:
				reply(tHelloOK, id, fakeHelloOK())
			case tSpawn:
				reply(tStarted, id, le.AppendUint32(nil,
					uint32(pid)), fd)
				p := make([]byte, 40)
				le.PutUint32(p, uint32(pid))
				le.PutUint32(p[4:], 1)
				reply(tExited, id, p)
			}
		}
	}()
	return sock
}

func pidfdOpen(t *testing.T, pid int) int {
	t.Helper()
	fd, _, e := syscall.Syscall(434, uintptr(pid), 0, 0)
	if e != 0 {
		t.Skipf("pidfd_open: %v", e)
	}
	t.Cleanup(func() { syscall.Close(int(fd)) })
	return int(fd)
}

// The pidfd that comes with STARTED must be one of the pid the daemon
// named, and that process a child of the daemon.
func TestPidfdCheck(t *testing.T) {
	child := exec.Command("sleep", "60") // our child: the fake's
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		child.Process.Kill()
		child.Wait()
	}()
	cpid := child.Process.Pid
	cfd := pidfdOpen(t, cpid)
	self := pidfdOpen(t, os.Getpid())
	for _, c := range []struct {
		name    string
		pid, fd int
		ok      bool
	}{
		{"right pidfd", cpid, cfd, true},
		{"pidfd of another pid", cpid + 1, cfd, false},
		{"pidfd of a non-child", os.Getpid(), self, false},
		{"not a pidfd", cpid, int(os.Stdin.Fd()), false},
	} {
		cl, err := Dial(fakeDaemon(t, c.pid, c.fd), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		cmd := Command("/bin/true")
		cmd.Client = cl
		err = cmd.Run()
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && cl.Err() == nil {
			t.Errorf("%s: the connection stays open", c.name)
		}
		if !c.ok && (!errors.Is(err, syscall.EPROTO) ||
			!strings.Contains(err.Error(), "pid "+
				strconv.Itoa(c.pid))) {
			t.Errorf("%s: %v", c.name, err)
		}
		cl.Close()
	}
}

// fakeListener accepts connections and hands each to serve.
func fakeListener(t *testing.T, serve func(c *net.UnixConn)) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "fake")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock,
		Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			serve(c)
			c.Close()
		}
	}()
	return sock
}

// A server that never answers HELLO: Dial gives up at its timeout.  A
// refusal at accept (ERROR before HELLO) comes back as a DaemonError.
func TestDialTimeoutAndRefusal(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	sock := fakeListener(t, func(c *net.UnixConn) { <-hold })
	start := time.Now()
	_, err := Dial(sock, 200*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) ||
		time.Since(start) > 10*time.Second {
		t.Errorf("silent server: %v after %v", err, time.Since(start))
	}
	sock = fakeListener(t, func(c *net.UnixConn) {
		msg := "this spawnd serves another user"
		p := binary.LittleEndian.AppendUint32(nil, uint32(syscall.EACCES))
		p = binary.LittleEndian.AppendUint32(p, uint32(len(msg)))
		p = append(append(p, msg...), 0)
		c.Write(append(header(tError, 0, len(p), 0, 0), p...))
	})
	_, err = Dial(sock, 5*time.Second)
	var de *DaemonError
	if !errors.As(err, &de) || !errors.Is(err, syscall.EACCES) ||
		de.Message != "this spawnd serves another user" {
		t.Errorf("refusal: %v", err)
	}
}

// HELLO_OK carries the limits in force, and the client keeps to them.
func TestDaemonLimits(t *testing.T) {
	c := ownDaemon(t, "--max-request", "1000", "--max-fds", "4")
	if c.maxRequest != 1000 || c.maxFDs != 4 {
		t.Errorf("limits %d, %d", c.maxRequest, c.maxFDs)
	}
	cmd := Command("true")
	cmd.Client = c
	cmd.Env = []string{"A=" + strings.Repeat("x", 1000)}
	var e *Error
	if err := cmd.Run(); !errors.As(err, &e) || e.Err != syscall.E2BIG {
		t.Errorf("over max_request: %v", err)
	}
	cmd = Command("true")
	cmd.Client = c
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{os.Stdin, os.Stdout, os.Stderr, os.Stdin}
	if err := cmd.Run(); !errors.As(err, &e) || e.Err != syscall.E2BIG {
		t.Errorf("over max_fds: %v", err)
	}
	cmd = Command("true")
	cmd.Client = c
	cmd.Env = []string{}
	if err := cmd.Run(); err != nil {
		t.Errorf("within the limits: %v", err)
	}
}

// fakeReply sends a daemon's frame on c, with fds.
func fakeReply(c *net.UnixConn, typ uint16, id uint32, p []byte,
	fds ...int) {
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	c.WriteMsgUnix(append(header(typ, 0, len(p), len(fds), id), p...),
		oob, nil)
}

// fakeFailed sends FAILED: errno at step.
func fakeFailed(c *net.UnixConn, id uint32, errno syscall.Errno, step Step) {
	p := binary.LittleEndian.AppendUint32(nil, uint32(errno))
	p = binary.LittleEndian.AppendUint16(p, uint16(step))
	p = binary.LittleEndian.AppendUint16(p, 0)
	p = binary.LittleEndian.AppendUint32(p, noIndex)
	fakeReply(c, tFailed, id, p)
}

// fakeExited sends EXITED: pid exited 0.
func fakeExited(c *net.UnixConn, id uint32, pid int) {
	p := make([]byte, 40)
	binary.LittleEndian.PutUint32(p, uint32(pid))
	binary.LittleEndian.PutUint32(p[4:], 1)
	fakeReply(c, tExited, id, p)
}

// fakeStarted sends STARTED for pid with its pidfd; with xfd >= 0, an
// early one (before the exec) with xfd as the exec fd.
func fakeStarted(c *net.UnixConn, id uint32, pid, pidfd, xfd int) {
	p := binary.LittleEndian.AppendUint32(nil, uint32(pid))
	if xfd < 0 {
		fakeReply(c, tStarted, id, p, pidfd)
		return
	}
	p = binary.LittleEndian.AppendUint32(p, startedExecFD)
	fakeReply(c, tStarted, id, p, pidfd, xfd)
}

// fakeSpawner is a server that answers HELLO, and each SPAWN (the n-th
// of its connection, 0-based) by calling spawn with its id and flags
// word; the SPAWNs' flags words go to the returned channel too.  It runs
// in this process, so the kernel names this process as the daemon.
func fakeSpawner(t *testing.T, spawn func(c *net.UnixConn, n int,
	id, flags uint32)) (string, <-chan uint32) {
	t.Helper()
	log := make(chan uint32, 100)
	sock := fakeListener(t, func(c *net.UnixConn) {
		le := binary.LittleEndian
		buf := make([]byte, 65536)
		oob := make([]byte, 4096)
		for n := 0; ; {
			m, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			if err != nil || m < hdrSize {
				return
			}
			// The request's fds are of no use here.
			msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
			for i := range msgs {
				fds, _ := syscall.ParseUnixRights(&msgs[i])
				for _, fd := range fds {
					syscall.Close(fd)
				}
			}
			id := le.Uint32(buf[16:])
			switch le.Uint16(buf[4:]) {
			case tHello:
				fakeReply(c, tHelloOK, id, fakeHelloOK())
			case tSpawn:
				fl := le.Uint32(buf[hdrSize:])
				log <- fl
				spawn(c, n, id, fl)
				n++
			}
		}
	})
	return sock, log
}

// fakeChild is a child of this process (the fake daemon's) and a pidfd
// of it, for the fakes' STARTED; killed at the end of the test.
func fakeChild(t *testing.T) (pid, pidfd int) {
	t.Helper()
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
	})
	return child.Process.Pid, pidfdOpen(t, child.Process.Pid)
}

// pipeFDs returns the fds of this process that are an end of the pipe
// whose inode is ino.
func pipeFDs(t *testing.T, ino uint64) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, e := range ents {
		var st syscall.Stat_t
		if syscall.Stat("/proc/self/fd/"+e.Name(), &st) == nil &&
			st.Mode&syscall.S_IFMT == syscall.S_IFIFO &&
			st.Ino == ino {
			fds = append(fds, e.Name())
		}
	}
	return fds
}

// execFDOf is c.execFD, read under c.mu.
func execFDOf(c *Client) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.execFD
}

// fakeRun runs /bin/true over cl and returns Run's error.
func fakeRun(t *testing.T, cl *Client) error {
	t.Helper()
	cmd := Command("/bin/true")
	cmd.Client = cl
	return cmd.Run()
}

// fakeDial connects to a fake server, closed at the end of the test.
func fakeDial(t *testing.T, sock string) *Client {
	t.Helper()
	cl, err := Dial(sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// A spawn asks for STARTED before the exec (the flag EXEC_FD) and takes
// it: the exec fd's end of file with no byte is the start.  Once one was
// granted the connection never asks without: a later EINVAL at the
// request is the request's own, not sent again.
func TestEarlyStartedFake(t *testing.T) {
	pid, pidfd := fakeChild(t)
	inos := make(chan uint64, 1)
	sock, log := fakeSpawner(t, func(c *net.UnixConn, n int, id,
		fl uint32) {
		if n > 0 {
			fakeFailed(c, id, syscall.EINVAL, StepRequest)
			return
		}
		p, ok := fakePipe(inos)
		if !ok {
			return
		}
		syscall.Close(p[1]) // the child has exec'd
		fakeStarted(c, id, pid, pidfd, p[0])
		syscall.Close(p[0])
		fakeExited(c, id, pid)
	})
	cl := fakeDial(t, sock)
	if err := fakeRun(t, cl); err != nil {
		t.Fatal(err)
	}
	if fl := <-log; fl&spawnExecFD == 0 {
		t.Errorf("SPAWN flags %#x: no EXEC_FD", fl)
	}
	if execFDOf(cl) != execFDYes {
		t.Errorf("EXEC_FD granted, but state %d", execFDOf(cl))
	}
	if fds := pipeFDs(t, <-inos); len(fds) != 0 {
		t.Errorf("the exec fd is still open: fds %v", fds)
	}
	var e *Error
	if err := fakeRun(t, cl); !errors.As(err, &e) ||
		e.Err != syscall.EINVAL || e.Step != StepRequest {
		t.Fatalf("refused: %v", err)
	}
	if fl := <-log; fl&spawnExecFD == 0 {
		t.Errorf("SPAWN flags %#x after a grant: no EXEC_FD", fl)
	}
	if err := fakeRun(t, cl); !errors.As(err, &e) {
		t.Fatalf("refused again: %v", err)
	}
	if fl := <-log; fl&spawnExecFD == 0 {
		t.Errorf("SPAWN flags %#x: sent again without EXEC_FD", fl)
	}
	if len(log) != 0 {
		t.Errorf("%d SPAWNs more", len(log))
	}
	if cl.Err() != nil {
		t.Error(cl.Err())
	}
}

// A byte on the exec fd: the child failed, and the daemon's FAILED
// that follows says how.  Both fds are closed, the connection stays in
// step.
func TestEarlyFailedFake(t *testing.T) {
	pid, pidfd := fakeChild(t)
	inos := make(chan uint64, 10)
	sock, _ := fakeSpawner(t, func(c *net.UnixConn, n int, id,
		fl uint32) {
		p, ok := fakePipe(inos)
		if !ok {
			return
		}
		syscall.Write(p[1], []byte{1})
		syscall.Close(p[1])
		fakeStarted(c, id, pid, pidfd, p[0])
		syscall.Close(p[0])
		fakeFailed(c, id, syscall.ENOENT, StepExec)
	})
	cl := fakeDial(t, sock)
	for i := 0; i < 2; i++ {
		err := fakeRun(t, cl)
		var e *Error
		if !errors.As(err, &e) || e.Err != syscall.ENOENT ||
			e.Step != StepExec || e.Index != -1 ||
			e.Name != "/bin/true" {
			t.Fatalf("spawn %d: %v", i, err)
		}
		if fds := pipeFDs(t, <-inos); len(fds) != 0 {
			t.Errorf("the exec fd is still open: fds %v", fds)
		}
	}
	if cl.Err() != nil {
		t.Error(cl.Err())
	}
}

// A daemon older than EXEC_FD refuses it (EINVAL at the request): the
// request goes again without, and so do later ones once that is served.
// A request refused without the flag too is at fault itself: the next
// asks again.
func TestEarlyOldDaemonFake(t *testing.T) {
	pid, pidfd := fakeChild(t)
	sock, log := fakeSpawner(t, func(c *net.UnixConn, n int, id,
		fl uint32) {
		if fl&spawnExecFD != 0 {
			fakeFailed(c, id, syscall.EINVAL, StepRequest)
			return
		}
		fakeStarted(c, id, pid, pidfd, -1)
		fakeExited(c, id, pid)
	})
	cl := fakeDial(t, sock)
	for i := 0; i < 3; i++ {
		if err := fakeRun(t, cl); err != nil {
			t.Fatalf("spawn %d: %v", i, err)
		}
	}
	var got []uint32
	for len(log) > 0 {
		got = append(got, <-log&spawnExecFD)
	}
	if len(got) != 4 || got[0] == 0 || got[1] != 0 || got[2] != 0 ||
		got[3] != 0 {
		t.Errorf("EXEC_FD bits of the SPAWNs: %#x", got)
	}
	if execFDOf(cl) != execFDNo {
		t.Errorf("state %d", execFDOf(cl))
	}

	sock, log = fakeSpawner(t, func(c *net.UnixConn, n int, id,
		fl uint32) {
		fakeFailed(c, id, syscall.EINVAL, StepRequest)
	})
	cl = fakeDial(t, sock)
	for i := 0; i < 2; i++ {
		var e *Error
		if err := fakeRun(t, cl); !errors.As(err, &e) ||
			e.Err != syscall.EINVAL || e.Step != StepRequest {
			t.Fatalf("spawn %d: %v", i, err)
		}
	}
	got = got[:0]
	for len(log) > 0 {
		got = append(got, <-log&spawnExecFD)
	}
	if len(got) != 4 || got[0] == 0 || got[1] != 0 || got[2] == 0 ||
		got[3] != 0 {
		t.Errorf("EXEC_FD bits of the SPAWNs refused: %#x", got)
	}
}

// An exec fd that is no pipe could block the wait for good, and an
// early STARTED not asked for is a lie: both are refused, the
// connection dropped.
func TestEarlyRefusedFake(t *testing.T) {
	pid, pidfd := fakeChild(t)
	null, err := syscall.Open(os.DevNull, syscall.O_RDONLY|
		syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(null) }) // after the fake's end
	sock, _ := fakeSpawner(t, func(c *net.UnixConn, n int, id,
		fl uint32) {
		fakeStarted(c, id, pid, pidfd, null)
	})
	cl := fakeDial(t, sock)
	err = fakeRun(t, cl)
	if !errors.Is(err, syscall.EPROTO) || !strings.Contains(err.Error(),
		"no pipe") || cl.Err() == nil {
		t.Errorf("/dev/null as the exec fd: %v, connection: %v", err,
			cl.Err())
	}

	sock, _ = fakeSpawner(t, func(c *net.UnixConn, n int, id,
		fl uint32) {
		if fl&spawnExecFD != 0 {
			fakeFailed(c, id, syscall.EINVAL, StepRequest)
			return
		}
		var p [2]int
		if syscall.Pipe2(p[:], syscall.O_CLOEXEC) != nil {
			return
		}
		syscall.Close(p[1])
		fakeStarted(c, id, pid, pidfd, p[0])
		syscall.Close(p[0])
		fakeExited(c, id, pid)
	})
	cl = fakeDial(t, sock)
	err = fakeRun(t, cl)
	if !errors.Is(err, syscall.EPROTO) || !strings.Contains(err.Error(),
		"not asked for") || cl.Err() == nil {
		t.Errorf("an early STARTED not asked for: %v, connection: %v",
			err, cl.Err())
	}
}

// The daemon hangs up while the spawn waits on the exec fd, whose
// writer (the child, here the fake) never closes it: the spawn fails
// and does not wait for good.
func TestEarlyHangupFake(t *testing.T) {
	pid, pidfd := fakeChild(t)
	waiting := make(chan struct{})
	testHookExecWait = func() { close(waiting) }
	defer func() { testHookExecWait = nil }()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[1])
	sock, _ := fakeSpawner(t, func(c *net.UnixConn, n int, id,
		fl uint32) {
		fakeStarted(c, id, pid, pidfd, p[0])
		syscall.Close(p[0])
		<-waiting
		c.Close() // and the child holds on to p[1]
	})
	cl := fakeDial(t, sock)
	err := fakeRun(t, cl)
	if !errors.Is(err, syscall.ECONNRESET) || cl.Err() == nil {
		t.Errorf("the daemon gone: %v, connection: %v", err, cl.Err())
	}
}

// fakeHelloOK is a fake's HELLO_OK payload: version 1, our pid, the
// protocol's limits.
func fakeHelloOK() []byte {
	le := binary.LittleEndian
	p := le.AppendUint32(nil, 1)
	p = le.AppendUint32(p, uint32(os.Getpid()))
	p = le.AppendUint32(p, maxRequest)
	return le.AppendUint32(p, maxFDs)
}

// fakePipe makes a fake child's exec pipe and sends its inode to inos,
// for pipeFDs to look for later.
func fakePipe(inos chan<- uint64) ([2]int, bool) {
	var p [2]int
	var st syscall.Stat_t
	if syscall.Pipe2(p[:], syscall.O_CLOEXEC) != nil {
		return p, false
	}
	if syscall.Fstat(p[0], &st) != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return p, false
	}
	inos <- st.Ino
	return p, true
}
