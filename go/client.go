package spawnd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Client is one connection to a spawnd daemon.  It is safe for use by
// many goroutines at once: requests are matched to replies by id, and one
// goroutine reads the connection.  The children a Client starts are tied
// to it: when it is closed, the daemon stops them (SIGTERM, then SIGKILL
// after the grace period) unless they were started with Cmd.Detach.
type Client struct {
	conn *net.UnixConn
	raw  syscall.RawConn
	path string

	// Handshake results.
	serverUID  int // SO_PEERCRED of the connection
	serverPid  int // SO_PEERCRED: the process that listened
	daemonPid  int // HELLO_OK
	maxRequest int
	maxFDs     int

	sendMu sync.Mutex // one frame, or one split request, at a time

	mu      sync.Mutex
	nextID  uint32
	waiters map[uint32]waiter
	err     error // set once the connection is dead
	done    chan struct{}
	execFD  int // execFD*: whether spawns ask for an early STARTED
}

// Whether to ask for STARTED before the exec (spawnExecFD): yes until a
// daemon that predates the flag refuses it; for good once one has
// granted it.
const (
	execFDAsk = iota
	execFDNo
	execFDYes
)

// waiter takes the frames with one request id, in the reading goroutine;
// it returns false when it expects no more frames.  It must not block.
type waiter func(f *frame) bool

// DaemonError is an ERROR frame: the daemon refused the connection or a
// request broke the protocol; the connection is closed after it.
type DaemonError struct {
	Errno   syscall.Errno
	Message string
}

func (e *DaemonError) Error() string {
	return "spawnd: daemon: " + e.Message + ": " + e.Errno.Error()
}

func (e *DaemonError) Unwrap() error { return e.Errno }

// SocketPath returns the socket a Client connects to by default:
// $SPAWND_SOCKET if set and not empty; else $XDG_RUNTIME_DIR/spawnd/socket
// if XDG_RUNTIME_DIR is an absolute path; else /run/spawnd/socket for
// root and /tmp/spawnd-EUID/socket for anybody else.
func SocketPath() string {
	if s := os.Getenv("SPAWND_SOCKET"); s != "" {
		return s
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); len(x) > 0 && x[0] == '/' {
		return x + "/spawnd/socket"
	}
	if os.Geteuid() == 0 {
		return "/run/spawnd/socket"
	}
	return "/tmp/spawnd-" + strconv.Itoa(os.Geteuid()) + "/socket"
}

// Dial connects to the daemon at path (SocketPath() if empty), checks
// who serves it and shakes hands.  A timeout of 0 means none.
//
// The server must run as the caller's effective uid or as root; a root
// caller accepts only root.  Any other server gets an error wrapping
// syscall.EPERM, and nothing is sent to it.
func Dial(path string, timeout time.Duration) (*Client, error) {
	if path == "" {
		path = SocketPath()
	}
	if len(path) > 107 {
		return nil, &net.OpError{Op: "dial", Net: "unixpacket",
			Err: syscall.ENAMETOOLONG}
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	d := net.Dialer{Deadline: deadline}
	nc, err := d.Dial("unixpacket", path)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: nc.(*net.UnixConn), path: path, nextID: 1,
		maxRequest: maxRequest, maxFDs: maxFDs,
		waiters: make(map[uint32]waiter), done: make(chan struct{})}
	if c.raw, err = c.conn.SyscallConn(); err == nil {
		err = c.checkPeer()
	}
	if err == nil {
		err = c.handshake(deadline)
	}
	if err != nil {
		c.conn.Close()
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

// checkPeer refuses a server that is neither us nor root (SO_PEERCRED).
func (c *Client) checkPeer() error {
	var cred *syscall.Ucred
	var err error
	cerr := c.raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd),
			syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return os.NewSyscallError("getsockopt SO_PEERCRED", err)
	}
	c.serverUID, c.serverPid = int(cred.Uid), int(cred.Pid)
	euid := os.Geteuid()
	if c.serverUID == 0 || (euid != 0 && c.serverUID == euid) {
		// SO_PEERCRED names whoever called listen(): the daemon,
		// its first process (--background) or a service manager.
		// The daemon's own pid comes with its frames, from the
		// kernel (SCM_CREDENTIALS).
		cerr = c.raw.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET,
				syscall.SO_PASSCRED, 1)
		})
		if cerr != nil {
			return cerr
		}
		return os.NewSyscallError("setsockopt SO_PASSCRED", err)
	}
	want := "uid " + strconv.Itoa(euid) + " or root"
	if euid == 0 {
		want = "root"
	}
	return fmt.Errorf("spawnd: %s is served by uid %d, not by %s: "+
		"refusing it (set SPAWND_SOCKET to your own daemon's "+
		"socket): %w", c.path, c.serverUID, want, syscall.EPERM)
}

// handshake sends HELLO and reads HELLO_OK (or the ERROR of a refusal).
func (c *Client) handshake(deadline time.Time) error {
	h := header(tHello, 0, 8, 0, 0)
	h = binary.LittleEndian.AppendUint32(h, 1)
	h = binary.LittleEndian.AppendUint32(h, 1)
	serr := c.send(h, nil)
	// A refused connection may be closed before HELLO goes out, with
	// the ERROR that says why waiting: read it in any case.
	if err := c.conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	f, cred, err := c.recvCred()
	if errors.Is(err, syscall.ECONNRESET) {
		// A server that closed with our HELLO unread leaves a
		// pending ECONNRESET, reported before the ERROR queued
		// ahead of it: read once more.
		if f2, cred2, err2 := c.recvCred(); err2 == nil {
			f, cred, err = f2, cred2, nil
		}
	}
	if err != nil {
		if serr != nil {
			return serr
		}
		return err
	}
	if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	defer f.closeFDs()
	if f.typ == tError {
		return errorFrame(&f)
	}
	v, ok := u32s(f.payload, 4)
	if f.typ != tHelloOK || f.id != 0 || len(f.payload) != 16 || !ok ||
		len(f.fds) != 0 {
		return errProto("bad HELLO_OK")
	}
	if v[0] != protoVersion {
		return syscall.EPROTONOSUPPORT
	}
	// The process that answered is the daemon, whatever pid it
	// claims: the kernel vouches for the sender.
	if cred == nil {
		return errProto("HELLO_OK without the sender's credentials")
	}
	c.daemonPid = int(cred.Pid)
	if int64(v[2]) < int64(c.maxRequest) {
		c.maxRequest = int(v[2])
	}
	if int(v[3]) < c.maxFDs {
		c.maxFDs = int(v[3])
	}
	return nil
}

func errProto(what string) error {
	return fmt.Errorf("spawnd: protocol error: %s: %w", what,
		syscall.EPROTO)
}

// errorFrame decodes an ERROR frame.
func errorFrame(f *frame) error {
	if len(f.payload) < 4 {
		return errProto("bad ERROR")
	}
	msg, _ := pstr(f.payload[4:])
	return &DaemonError{Errno: syscall.Errno(
		binary.LittleEndian.Uint32(f.payload)), Message: msg}
}

// send sends one datagram, with fds as SCM_RIGHTS, with MSG_NOSIGNAL.
func (c *Client) send(p []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	var n int
	var err error
	werr := c.raw.Write(func(fd uintptr) bool {
		n, err = syscall.SendmsgN(int(fd), p, oob, nil,
			syscall.MSG_NOSIGNAL|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
	if werr != nil {
		return werr
	}
	if err != nil {
		return os.NewSyscallError("sendmsg", err)
	}
	if n != len(p) {
		return os.NewSyscallError("sendmsg", syscall.EIO)
	}
	return nil
}

// recv receives one datagram and checks its header.
func (c *Client) recv() (frame, error) {
	f, _, err := c.recvCred()
	return f, err
}

// recvCred is recv that also returns the sender's credentials.
func (c *Client) recvCred() (frame, *syscall.Ucred, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(4*4)+
		syscall.CmsgSpace(syscall.SizeofUcred))
	var n, oobn, flags int
	var err error
	rerr := c.raw.Read(func(fd uintptr) bool {
		n, oobn, flags, _, err = syscall.Recvmsg(int(fd), buf, oob,
			syscall.MSG_CMSG_CLOEXEC|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
	if rerr != nil {
		return frame{}, nil, rerr
	}
	if err != nil {
		return frame{}, nil, os.NewSyscallError("recvmsg", err)
	}
	var fds []int
	var cred *syscall.Ucred
	bad := false
	if oobn > 0 {
		msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
		bad = perr != nil
		for i := range msgs {
			m := &msgs[i]
			if m.Header.Level != syscall.SOL_SOCKET {
				bad = true
				continue
			}
			switch m.Header.Type {
			case syscall.SCM_RIGHTS:
				r, err := syscall.ParseUnixRights(m)
				fds = append(fds, r...)
				bad = bad || err != nil
			case syscall.SCM_CREDENTIALS:
				cred, err = syscall.ParseUnixCredentials(m)
				bad = bad || err != nil
			default:
				bad = true
			}
		}
	}
	if n == 0 && len(fds) == 0 {
		return frame{}, nil, fmt.Errorf("spawnd: the daemon closed "+
			"the connection: %w", syscall.ECONNRESET)
	}
	f, ok := decodeFrame(buf[:n], fds)
	if !ok || bad || flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 {
		f.fds = fds
		f.closeFDs()
		return frame{}, nil, errProto("bad frame from the daemon")
	}
	return f, cred, nil
}

// readLoop hands each frame to the waiter of its id, until the
// connection fails; then every waiter gets a nil frame.
func (c *Client) readLoop() {
	for {
		f, err := c.recv()
		if err == nil && f.typ == tError {
			err = errorFrame(&f)
		}
		if err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		w := c.waiters[f.id]
		if w != nil && !w(&f) {
			delete(c.waiters, f.id)
		}
		c.mu.Unlock()
		// Replies to requests given up on (and their fds) go.
		f.closeFDs()
	}
}

// fail marks the connection dead with err and tells every waiter.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	ws := c.waiters
	c.waiters = nil
	close(c.done)
	for _, w := range ws {
		w(nil)
	}
	c.mu.Unlock()
	c.conn.Close()
}

// Err returns why the connection is dead, or nil while it is usable.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection; the daemon stops its tied children.
func (c *Client) Close() error {
	c.fail(net.ErrClosed)
	return nil
}

// DaemonPid is the daemon's pid: the sender of HELLO_OK, as the kernel
// names it (SCM_CREDENTIALS).
func (c *Client) DaemonPid() int { return c.daemonPid }

// register gives a waiter a fresh id: never 0 (HELLO's) and never one
// in use, such as a live child's.
func (c *Client) register(w waiter) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	for {
		id := c.nextID
		c.nextID++
		if id == 0 {
			continue
		}
		if _, used := c.waiters[id]; !used {
			c.waiters[id] = w
			return id, nil
		}
	}
}

func (c *Client) unregister(id uint32) {
	c.mu.Lock()
	if c.waiters != nil {
		delete(c.waiters, id)
	}
	c.mu.Unlock()
}

// request sends a bare request and waits for frames with its id until
// w says the answer is complete; a nil frame means the connection died.
func (c *Client) request(ctx context.Context, typ uint16, payload []byte,
	w waiter) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fin := make(chan struct{})
	var dead bool
	id, err := c.register(func(f *frame) bool {
		if f == nil {
			dead = true
			close(fin)
			return false
		}
		if w(f) {
			return true
		}
		close(fin)
		return false
	})
	if err != nil {
		return err
	}
	h := append(header(typ, 0, len(payload), 0, id), payload...)
	c.sendMu.Lock()
	err = c.send(h, nil)
	c.sendMu.Unlock()
	if err != nil {
		c.fail(err)
		return err
	}
	select {
	case <-fin:
	case <-ctx.Done():
		c.unregister(id)
		return ctx.Err()
	}
	if dead {
		return c.Err()
	}
	return nil
}

// failedError turns a FAILED reply to KILL or WATCH into its errno.
func failedError(f *frame) error {
	v, ok := u32s(f.payload, 3)
	if !ok || len(f.payload) != 12 {
		return errProto("bad FAILED")
	}
	return syscall.Errno(v[0])
}

// Pong is the daemon's answer to a ping.
type Pong struct {
	Pid         int    // the daemon's pid
	Connections int    // open connections, all users
	Children    int    // running children, all connections
	Spawns      uint64 // children started since the daemon started
}

// Ping asks the daemon for its counters.
func (c *Client) Ping(ctx context.Context) (Pong, error) {
	var p Pong
	var perr error
	err := c.request(ctx, tPing, nil, func(f *frame) bool {
		v, ok := u32s(f.payload, 4)
		if f.typ != tPong || len(f.payload) != 24 || !ok {
			perr = errProto("bad PONG")
			return false
		}
		p = Pong{Pid: int(v[0]), Connections: int(v[1]),
			Children: int(v[2]),
			Spawns:   binary.LittleEndian.Uint64(f.payload[16:])}
		return false
	})
	if err == nil {
		err = perr
	}
	return p, err
}

// ListEntry describes one child of the daemon (LIST_ENTRY).
type ListEntry struct {
	Pid       int
	ClientPid int // 0 once its connection has closed
	UID       int
	Detached  bool
	Orphan    bool
	Stopping  bool
	Age       time.Duration
	Args      string // argv joined by spaces, cut at 256 bytes
}

// List returns the daemon's children that the caller may see.
func (c *Client) List(ctx context.Context) ([]ListEntry, error) {
	var list []ListEntry
	var lerr error
	err := c.request(ctx, tList, nil, func(f *frame) bool {
		if f.typ == tOK {
			return false
		}
		v, ok := u32s(f.payload, 4)
		s, sok := "", false
		if ok && len(f.payload) >= 24 {
			s, sok = pstr(f.payload[24:])
		}
		if f.typ != tListEntry || !sok {
			lerr = errProto("bad LIST_ENTRY")
			return false
		}
		list = append(list, ListEntry{Pid: int(v[0]),
			ClientPid: int(v[1]), UID: int(v[2]),
			Detached: v[3]&1 != 0, Orphan: v[3]&2 != 0,
			Stopping: v[3]&4 != 0, Args: s,
			Age: time.Duration(binary.LittleEndian.Uint64(
				f.payload[16:])) * time.Millisecond})
		return true
	})
	if err == nil {
		err = lerr
	}
	return list, err
}

// KillPid sends sig to a live child of the daemon named by its pid
// (whichever connection started it), or to its process group.
func (c *Client) KillPid(pid int, sig syscall.Signal, group bool) error {
	if pid <= 0 {
		return syscall.ESRCH
	}
	fl := uint32(killByPid)
	if group {
		fl |= killGroup
	}
	p := make([]byte, 0, 12)
	p = binary.LittleEndian.AppendUint32(p, uint32(pid))
	p = binary.LittleEndian.AppendUint32(p, uint32(sig))
	p = binary.LittleEndian.AppendUint32(p, fl)
	var kerr error
	err := c.request(context.Background(), tKill, p, func(f *frame) bool {
		if f.typ == tFailed {
			kerr = failedError(f)
		} else if f.typ != tOK {
			kerr = errProto("bad reply to KILL")
		}
		return false
	})
	if err == nil {
		err = kerr
	}
	return err
}

// Watching is a child of the daemon watched with Client.Watch.
type Watching struct {
	Pid  int
	done chan struct{}
	st   *ProcessState
	err  error
}

// Wait waits until the watched child has ended and returns its state.
func (w *Watching) Wait() (*ProcessState, error) {
	<-w.done
	return w.st, w.err
}

// Watch asks for the exit record of a live child of the daemon named by
// its pid, whichever connection started it (WATCH).  It returns once the
// daemon has accepted the watch; Watching.Wait then waits for the end.
func (c *Client) Watch(ctx context.Context, pid int) (*Watching, error) {
	if pid <= 0 {
		return nil, syscall.ESRCH
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := &Watching{Pid: pid, done: make(chan struct{})}
	acked := make(chan error, 1)
	state := 0 // 0: no answer yet, 1: watching
	id, err := c.register(func(f *frame) bool {
		switch {
		case f == nil && state == 0:
			acked <- c.err
		case f == nil:
			w.err = c.err
			close(w.done)
		case state == 0 && f.typ == tOK:
			state = 1
			acked <- nil
			return true
		case state == 0 && f.typ == tFailed:
			acked <- failedError(f)
		case state == 0:
			acked <- errProto("bad reply to WATCH")
		default:
			if f.typ == tExited {
				w.st, w.err = decodeExited(f, pid)
			} else {
				w.err = errProto("bad EXITED")
			}
			close(w.done)
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	p := binary.LittleEndian.AppendUint32(nil, uint32(pid))
	h := append(header(tWatch, 0, len(p), 0, id), p...)
	c.sendMu.Lock()
	err = c.send(h, nil)
	c.sendMu.Unlock()
	if err != nil {
		c.fail(err)
	}
	select {
	case err = <-acked:
	case <-ctx.Done():
		c.unregister(id)
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return w, nil
}
