package spawnd

import (
	"fmt"
	"strconv"
	"syscall"
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
// and waits for STARTED or FAILED.
func (c *Client) spawn(name string, b []byte, fds []int) (*Process, error) {
	if len(fds) > c.maxFDs {
		return nil, &Error{Name: name, Err: syscall.E2BIG,
			Step: StepRequest, Index: -1}
	}
	if len(b) > c.maxRequest {
		return nil, &Error{Name: name, Err: syscall.E2BIG,
			Step: StepRequest, Index: -1}
	}
	type reply struct {
		p   *Process
		f   []uint32
		err error
	}
	ch := make(chan reply, 1)
	var p *Process
	id, err := c.register(func(f *frame) bool {
		switch {
		case f == nil && p == nil:
			ch <- reply{err: c.err}
		case f == nil:
			p.finish(nil, fmt.Errorf("spawnd: lost the daemon "+
				"before pid %d ended: %w", p.Pid, c.err))
		case p == nil && f.typ == tStarted:
			v, ok := u32s(f.payload, 1)
			if !ok || len(f.payload) != 4 || len(f.fds) != 1 {
				ch <- reply{err: errProto("bad STARTED")}
				return false
			}
			p = &Process{Pid: int(v[0]), client: c,
				pidfd: f.fds[0], done: make(chan struct{})}
			f.fds = nil
			ch <- reply{p: p}
			return true
		case p == nil && f.typ == tFailed:
			v, ok := u32s(f.payload, 3)
			if !ok || len(f.payload) != 12 {
				ch <- reply{err: errProto("bad FAILED")}
				return false
			}
			v[1] &= 0xffff
			ch <- reply{f: v}
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
		return nil, r.err
	case r.f != nil:
		idx := -1
		if Step(r.f[1]) == StepFileAction {
			idx = int(r.f[2])
		}
		return nil, &Error{Name: name, Err: syscall.Errno(r.f[0]),
			Step: Step(r.f[1]), Index: idx}
	}
	if err := c.verifyPidfd(r.p.pidfd, r.p.Pid); err != nil {
		// Whoever sent it is no daemon to trust with more.
		r.p.closePidfd()
		c.fail(err)
		return nil, err
	}
	return r.p, nil
}
