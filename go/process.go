package spawnd

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a child the daemon started.  Unlike os.Process, it holds a
// pidfd: Signal and Kill can never reach another process that reused the
// pid after the child was reaped.
type Process struct {
	Pid int

	client *Client
	id     uint32

	fdMu  sync.RWMutex // pidfd users hold it read, its closer write
	pidfd int          // -1 once closed

	done  chan struct{} // closed when state or err is set
	state *ProcessState
	err   error
}

// ProcessState is how a child ended, from the daemon's exit record.
type ProcessState struct {
	pid    int
	status syscall.WaitStatus
	rusage syscall.Rusage
}

// decodeExited turns an EXITED payload into a ProcessState (section 11).
func decodeExited(f *frame, pid int) (*ProcessState, error) {
	v, ok := u32s(f.payload, 4)
	if !ok || len(f.payload) != 40 || len(f.fds) != 0 ||
		int(v[0]) != pid {
		return nil, errProto("bad EXITED")
	}
	le := binary.LittleEndian
	var ws uint32
	switch code, st := v[1], v[2]; {
	case code == 1 && st <= 255:
		ws = st << 8
	case (code == 2 || code == 3) && st >= 1 && st <= 64:
		ws = st
		if code == 3 {
			ws |= 0x80
		}
	default:
		return nil, errProto("bad EXITED status")
	}
	s := &ProcessState{pid: pid, status: syscall.WaitStatus(ws)}
	s.rusage.Utime = syscall.NsecToTimeval(
		int64(le.Uint64(f.payload[16:])) * 1000)
	s.rusage.Stime = syscall.NsecToTimeval(
		int64(le.Uint64(f.payload[24:])) * 1000)
	s.rusage.Maxrss = int64(le.Uint64(f.payload[32:]))
	return s, nil
}

// finish records the end of the child (a state, or why it is unknown)
// and lets go of the pidfd.  The first call wins.
func (p *Process) finish(s *ProcessState, err error) {
	select {
	case <-p.done:
		return
	default:
	}
	p.state, p.err = s, err
	close(p.done)
}

// closePidfd closes the pidfd once no Signal uses it.
func (p *Process) closePidfd() {
	p.fdMu.Lock()
	if p.pidfd >= 0 {
		syscall.Close(p.pidfd)
		p.pidfd = -1
	}
	p.fdMu.Unlock()
}

// Wait waits for the child to end and returns its state.  It fails if
// the connection to the daemon broke first (the daemon then stops the
// child, unless it is detached).
func (p *Process) Wait() (*ProcessState, error) {
	<-p.done
	p.closePidfd()
	if p.err != nil {
		return nil, p.err
	}
	return p.state, nil
}

// Signal sends sig to the child through its pidfd.  After Wait, or once
// the child has been reaped, it returns os.ErrProcessDone.
func (p *Process) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return errors.New("spawnd: unsupported signal type")
	}
	p.fdMu.RLock()
	defer p.fdMu.RUnlock()
	if p.pidfd < 0 {
		return os.ErrProcessDone
	}
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	if err := pidfdSendSignal(p.pidfd, s); err != nil {
		if err == syscall.ESRCH {
			return os.ErrProcessDone
		}
		return os.NewSyscallError("pidfd_send_signal", err)
	}
	return nil
}

// Kill sends SIGKILL to the child.
func (p *Process) Kill() error { return p.Signal(syscall.SIGKILL) }

// Release lets go of the pidfd; the Process cannot be signalled then.
func (p *Process) Release() error {
	p.closePidfd()
	return nil
}

const sysPidfdSendSignal = 424

func pidfdSendSignal(fd int, sig syscall.Signal) error {
	_, _, e := syscall.Syscall6(sysPidfdSendSignal, uintptr(fd),
		uintptr(sig), 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// ExitCode returns the exit code, or -1 if the child was killed by a
// signal (or the state is nil).
func (p *ProcessState) ExitCode() int {
	if p == nil {
		return -1
	}
	return p.status.ExitStatus()
}

// Exited reports whether the child exited (rather than being killed).
func (p *ProcessState) Exited() bool { return p.status.Exited() }

// Success reports whether the child exited with status 0.
func (p *ProcessState) Success() bool {
	return p.status.Exited() && p.status.ExitStatus() == 0
}

// Pid returns the child's pid.
func (p *ProcessState) Pid() int { return p.pid }

// Sys returns the wait status, a syscall.WaitStatus, as os.ProcessState
// does.
func (p *ProcessState) Sys() interface{} { return p.status }

// SysUsage returns a *syscall.Rusage with the child's user and system
// time and peak RSS (KiB) filled in; the daemon reports nothing else.
func (p *ProcessState) SysUsage() interface{} { return &p.rusage }

// UserTime returns the child's user CPU time.
func (p *ProcessState) UserTime() time.Duration {
	return time.Duration(p.rusage.Utime.Nano())
}

// SystemTime returns the child's system CPU time.
func (p *ProcessState) SystemTime() time.Duration {
	return time.Duration(p.rusage.Stime.Nano())
}

// String is what os.ProcessState.String says for the same status.
func (p *ProcessState) String() string {
	if p == nil {
		return "<nil>"
	}
	st := p.status
	res := ""
	switch {
	case st.Exited():
		res = "exit status " + strconv.Itoa(st.ExitStatus())
	case st.Signaled():
		res = "signal: " + st.Signal().String()
	}
	if st.CoreDump() {
		res += " (core dumped)"
	}
	return res
}

// pidfdTries bounds the reads of a STARTED pidfd's parent.
const pidfdTries = 3

// verifyPidfd checks that the pidfd the daemon sent refers to the pid it
// named, a child of the daemon; else a server could hand us a pidfd of
// any process and have our Kill reach it.  A process already reaped
// (fdinfo "Pid: -1", or no /proc entry) can be signalled by nobody and
// is accepted.  A process being reaped while we read shows parent 0:
// look again.  A daemon outside our pid namespace (pid 0) cannot be
// checked against: the process must be outside too.
func (c *Client) verifyPidfd(fd, pid int) error {
	bad := func(why string) error {
		return fmt.Errorf("spawnd: the daemon's pidfd for pid %d: "+
			"%s: %w", pid, why, syscall.EPROTO)
	}
	info := "/proc/self/fdinfo/" + strconv.Itoa(fd)
	for i := 0; i < pidfdTries; i++ {
		s, err := procField(info, "Pid:")
		if err != nil {
			return bad("not a pidfd")
		}
		got, err := strconv.Atoi(s)
		if err != nil {
			return bad("not a pidfd")
		}
		if c.daemonPid == 0 {
			if got == 0 || got == -1 {
				return nil
			}
			return bad("a pidfd of pid " + s)
		}
		if got != pid && got != -1 {
			return bad("a pidfd of pid " + s)
		}
		ppid, err := procPPid(pid)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil && ppid == c.daemonPid {
			return nil
		}
		if err != nil || ppid != 0 {
			return bad("its parent is " + strconv.Itoa(ppid) +
				", not the daemon " + strconv.Itoa(c.daemonPid))
		}
	}
	return bad("it is being reaped")
}

// procPPid reads the parent of pid from /proc/PID/stat (field 4).
func procPPid(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			err = fs.ErrNotExist
		}
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // comm may hold anything
	f := strings.Fields(s[i+1:])
	if i < 0 || len(f) < 2 {
		return 0, syscall.EINVAL
	}
	return strconv.Atoi(f[1])
}

// procField returns the value of the first "Name:" line of a /proc file.
func procField(path, name string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, name) {
			return strings.TrimSpace(l[len(name):]), nil
		}
	}
	return "", syscall.ENOENT
}
