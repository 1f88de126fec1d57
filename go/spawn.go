package spawnd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// Step is where in spawnd a spawn failed (protocol.md, section 7.2).
type Step int

// The steps, as the daemon reports them.
const (
	StepNone Step = iota
	StepRequest
	StepFork
	StepSignals
	StepSetsid
	StepSetpgid
	StepScheduler
	StepResetIDs
	StepRlimit
	StepNice
	StepChdir
	StepFDSetup
	StepFileAction
	StepExec
	StepCtty // the CTTY record of a newer daemon; not sent by this package
)

var stepNames = [...]string{"none", "request", "fork", "signals", "setsid",
	"setpgid", "scheduler", "reset ids", "rlimit", "nice", "chdir",
	"fd setup", "file action", "exec", "controlling terminal"}

func (s Step) String() string {
	if s < 0 || int(s) >= len(stepNames) {
		return "step " + strconv.Itoa(int(s))
	}
	return stepNames[s]
}

// Error is returned by LookPath when it finds no executable, and by
// Start when the daemon could not start the program.  Err is the errno
// (a syscall.Errno, so errors.Is(err, fs.ErrNotExist) works) or, from
// LookPath, ErrNotFound, ErrDot or a stat error.  Step says where the
// daemon failed; StepNone for errors found in this process.
type Error struct {
	Name  string // the program
	Err   error
	Step  Step
	Index int // the failed file action for StepFileAction, else -1
}

func (e *Error) Error() string {
	if e.Step == StepNone {
		return "exec: " + strconv.Quote(e.Name) + ": " + e.Err.Error()
	}
	return "spawnd: " + strconv.Quote(e.Name) + ": " + e.Step.String() +
		": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// spawn sends a spawn body with its fds (split over frames if large)
// and waits for STARTED or FAILED.  It asks for STARTED before the exec
// (spawnExecFD, see spawnOnce) unless the daemon predates that: one
// that refuses the flag (EINVAL at the request) before any daemon of
// the connection granted it gets the request again without, and later
// requests come without it if that is served (a request refused again
// was at fault itself).  b's flags word is set here.
func (c *Client) spawn(name string, b []byte, fds []int) (*Process, error) {
	if len(fds) > c.maxFDs {
		return nil, &Error{Name: name, Err: syscall.E2BIG,
			Step: StepRequest, Index: -1}
	}
	if len(b) > c.maxRequest {
		return nil, &Error{Name: name, Err: syscall.E2BIG,
			Step: StepRequest, Index: -1}
	}
	c.mu.Lock()
	early := c.execFD != execFDNo
	c.mu.Unlock()
	p, err := c.spawnOnce(name, b, fds, early)
	e, ok := err.(*Error)
	if !early || !ok || e.Err != syscall.EINVAL || e.Step != StepRequest {
		return p, err
	}
	c.mu.Lock()
	again := c.execFD == execFDAsk
	c.mu.Unlock()
	if !again {
		return p, err
	}
	if p, err = c.spawnOnce(name, b, fds, false); err == nil {
		c.mu.Lock()
		if c.execFD == execFDAsk {
			c.execFD = execFDNo
		}
		c.mu.Unlock()
	}
	return p, err
}

// spawnOnce sends the request under a new id, with spawnExecFD if early,
// and waits for its STARTED or FAILED.
//
// A daemon that grants spawnExecFD sends STARTED right after the clone,
// before the child's set-up and exec, with a second fd after the pidfd:
// the read end of a pipe whose only writer is the child, close-on-exec.
// It is checked to be a pipe, the pidfd as ever, and then the spawn
// waits on it (execWait): end of file, the child has exec'd (or was
// killed first: a start all the same, its EXITED says how it ended); a
// byte, it failed, and the daemon's FAILED follows once it has exited,
// instead of EXITED.  The daemon does not wake up for the exec then.
func (c *Client) spawnOnce(name string, b []byte, fds []int,
	early bool) (*Process, error) {
	fl := binary.LittleEndian.Uint32(b) &^ spawnExecFD
	if early {
		fl |= spawnExecFD
	}
	binary.LittleEndian.PutUint32(b, fl)
	type reply struct {
		p     *Process
		xfd   int // the exec fd of an early STARTED, else -1
		f     []uint32
		err   error
		fatal bool // the daemon broke the protocol: drop it
	}
	ch := make(chan reply, 1)
	var p *Process
	var failed []uint32 // FAILED after an early STARTED
	var xw *os.File     // the exec fd while execWait waits; under c.mu
	granted := false    // spawnExecFD: STARTED came before the exec
	id, err := c.register(func(f *frame) bool {
		le := binary.LittleEndian
		switch {
		case f == nil && p == nil:
			ch <- reply{err: c.err}
		case f == nil:
			if xw != nil {
				// Wake execWait: the daemon is gone.
				xw.SetReadDeadline(time.Unix(1, 0))
			}
			p.finish(nil, fmt.Errorf("spawnd: lost the daemon "+
				"before pid %d ended: %w", p.Pid, c.err))
		case p == nil && f.typ == tStarted:
			switch n := len(f.payload); {
			case n == 4 && len(f.fds) == 1:
			case n == 8 && le.Uint32(f.payload[4:]) == startedExecFD &&
				!early:
				ch <- reply{err: errProto("a STARTED before " +
					"the exec, not asked for"), fatal: true}
				return false
			case n == 8 && le.Uint32(f.payload[4:]) ==
				startedExecFD && len(f.fds) == 2:
				granted = true
				c.execFD = execFDYes // c.mu is held
			default:
				ch <- reply{err: errProto("bad STARTED"),
					fatal: true}
				return false
			}
			p = &Process{Pid: int(le.Uint32(f.payload)), client: c,
				pidfd: f.fds[0], done: make(chan struct{})}
			xfd := -1
			if granted {
				xfd = f.fds[1]
			}
			f.fds = nil
			ch <- reply{p: p, xfd: xfd}
			return true
		case p == nil && f.typ == tFailed:
			v, ok := u32s(f.payload, 3)
			if !ok || len(f.payload) != 12 {
				ch <- reply{err: errProto("bad FAILED")}
				return false
			}
			v[1] &= 0xffff
			ch <- reply{f: v}
		case granted && f.typ == tFailed:
			// The child wrote its byte; if it did not, STARTED
			// was a lie and Wait says so.
			v, ok := u32s(f.payload, 3)
			if !ok || len(f.payload) != 12 || len(f.fds) != 0 {
				p.finish(nil, errProto("bad FAILED"))
				break
			}
			v[1] &= 0xffff
			failed = v
			p.finish(nil, errProto("FAILED for pid "+
				strconv.Itoa(p.Pid)+", which has exec'd"))
		case p != nil && f.typ == tExited:
			p.finish(decodeExited(f, p.Pid))
		default:
			if p == nil {
				ch <- reply{err: errProto("bad reply to SPAWN")}
			} else {
				p.finish(nil, errProto("bad EXITED"))
			}
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	c.sendMu.Lock()
	for off := 0; ; off += maxPayload {
		n, fl := len(b)-off, uint16(0)
		if n > maxPayload {
			n, fl = maxPayload, flagMore
		}
		var nfds []int
		if off == 0 {
			nfds = fds
		}
		h := append(header(tSpawn, fl, n, len(nfds), id),
			b[off:off+n]...)
		if err = c.send(h, nfds); err != nil || fl == 0 {
			break
		}
	}
	c.sendMu.Unlock()
	if err != nil {
		c.fail(err)
	}
	r := <-ch
	switch {
	case r.err != nil:
		if r.fatal {
			c.fail(r.err)
		}
		return nil, r.err
	case r.f != nil:
		return nil, failedSpawn(name, r.f)
	}
	if r.xfd >= 0 {
		var st syscall.Stat_t
		if err := syscall.Fstat(r.xfd, &st); err != nil ||
			st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
			// Waiting on it could block for good.
			syscall.Close(r.xfd)
			r.p.closePidfd()
			err = errProto("the exec fd of pid " +
				strconv.Itoa(r.p.Pid) + " is no pipe")
			c.fail(err)
			return nil, err
		}
	}
	if err := c.verifyPidfd(r.p.pidfd, r.p.Pid); err != nil {
		// Whoever sent it is no daemon to trust with more.
		if r.xfd >= 0 {
			syscall.Close(r.xfd)
		}
		r.p.closePidfd()
		c.fail(err)
		return nil, err
	}
	if r.xfd < 0 {
		return r.p, nil
	}
	bad, err := c.execWait(r.xfd, &xw)
	if err != nil {
		r.p.closePidfd()
		return nil, err
	}
	if !bad {
		return r.p, nil
	}
	// FAILED comes once the child has exited, or the connection dies.
	<-r.p.done
	r.p.closePidfd()
	if failed != nil {
		return nil, failedSpawn(name, failed)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	err = errProto("EXITED for pid " + strconv.Itoa(r.p.Pid) +
		", which failed")
	c.fail(err)
	return nil, err
}

// failedSpawn turns a FAILED reply to SPAWN (errno, step, index) into
// an *Error.
func failedSpawn(name string, f []uint32) error {
	idx := -1
	if Step(f[1]) == StepFileAction {
		idx = int(f[2])
	}
	return &Error{Name: name, Err: syscall.Errno(f[0]), Step: Step(f[1]),
		Index: idx}
}

// testHookExecWait, if set, is called when execWait starts to wait.
var testHookExecWait func()

// execWait waits on the exec fd of an early STARTED until the child has
// exec'd (end of file, no byte: false) or failed (a byte: true).  *xw
// holds the fd meanwhile, under c.mu: the reading goroutine wakes the
// wait when the connection dies (the daemon's hang-up), which fails it,
// unless the exec came first.  Takes xfd.  A wait that breaks otherwise
// drops the connection: the spawn's outcome is unknown.
func (c *Client) execWait(xfd int, xw **os.File) (bool, error) {
	// Non-blocking, os.File waits in the runtime's poller, where a
	// deadline can wake it.  The daemon closed its copy of the fd.
	if err := syscall.SetNonblock(xfd, true); err != nil {
		syscall.Close(xfd)
		err = os.NewSyscallError("fcntl", err)
		c.fail(err)
		return false, err
	}
	f := os.NewFile(uintptr(xfd), "spawnd exec fd")
	defer f.Close()
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		c.fail(err) // a pipe without the poller: it could block
		return false, err
	}
	c.mu.Lock()
	if c.err != nil {
		f.SetReadDeadline(time.Unix(1, 0))
	} else {
		*xw = f
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		*xw = nil
		c.mu.Unlock()
	}()
	if testHookExecWait != nil {
		testHookExecWait()
	}
	// Looked at, never read: the daemon tells FAILED from EXITED by
	// whether the byte is still in the pipe (protocol.md, STARTED).
	rc, err := f.SyscallConn()
	if err != nil {
		c.fail(err)
		return false, err
	}
	var ev int16
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		ev, perr = pollNow(int(fd))
		return perr != nil || ev&(pollIn|pollHup|pollErr) != 0
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection died; an exec that came first is a start.
		if cerr := rc.Control(func(fd uintptr) {
			ev, perr = pollNow(int(fd))
		}); cerr == nil && perr == nil && ev&pollIn == 0 &&
			ev&(pollHup|pollErr) != 0 {
			return false, nil
		}
		return false, c.Err()
	}
	if err == nil {
		err = perr
	}
	switch {
	case err != nil:
	case ev&pollIn != 0:
		return true, nil
	default:
		return false, nil
	}
	err = fmt.Errorf("spawnd: the exec fd: %w", err)
	c.fail(err)
	return false, err
}

// poll(2) event bits, and a pollfd, as Linux has them.
const (
	pollIn  = 0x1
	pollErr = 0x8
	pollHup = 0x10
)

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

// pollNow polls fd for input without waiting: its revents.
func pollNow(fd int) (int16, error) {
	p := pollFd{fd: int32(fd), events: pollIn}
	var ts syscall.Timespec
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_PPOLL,
			uintptr(unsafe.Pointer(&p)), 1,
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return 0, os.NewSyscallError("ppoll", e)
		}
		return p.revents, nil
	}
}
