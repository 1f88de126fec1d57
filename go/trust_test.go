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
				p := le.AppendUint32(nil, 1)
				p = le.AppendUint32(p, uint32(os.Getpid()))
				p = le.AppendUint32(p, maxRequest)
				p = le.AppendUint32(p, maxFDs)
				reply(tHelloOK, id, p)
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
	sock := filepath.Join(t.TempDir(), "socket")
	d := exec.Command(daemonBin, "--socket", sock, "--max-request",
		"1000", "--max-fds", "4")
	d.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		d.Process.Signal(syscall.SIGTERM)
		d.Wait()
	}()
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
	defer c.Close()
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
