package spawnd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrWaitDelay is returned by Cmd.Wait if the process exits
// successfully but its I/O pipes were not closed before Cmd.WaitDelay
// elapsed (as os/exec's ErrWaitDelay of Go 1.20).
var ErrWaitDelay = errors.New("exec: WaitDelay expired before I/O complete")

// SysProcAttr holds the process-group and session options that spawnd
// can apply; the other fields of syscall.SysProcAttr are not supported:
// the child's credentials, namespaces and so on are the daemon's, and
// the protocol cannot give it a controlling terminal (so neither Setctty
// nor Foreground).
type SysProcAttr struct {
	Setsid  bool // create a session
	Setpgid bool // set the process group to Pgid
	Pgid    int  // 0: a new group led by the child
	// KillGroup sends the stop signals of Cmd.Timeout and of the
	// connection's end to the child's process group; the child must
	// lead one (Setsid, or Setpgid with Pgid 0).
	KillGroup bool
}

// Rlimit is one resource limit for the child (setrlimit(2)).
type Rlimit struct {
	Resource int // syscall.RLIMIT_*
	Cur, Max uint64
}

// RlimInfinity is RLIM_INFINITY for Rlimit.Cur and Rlimit.Max.
const RlimInfinity = ^uint64(0)

// Cmd is a command to run through spawnd.  Its fields and methods are
// those of os/exec.Cmd (Go 1.20); the fields after Cancel are spawnd's
// own.  A Cmd cannot be reused after Start, Run, Output or
// CombinedOutput.
type Cmd struct {
	Path        string
	Args        []string
	Env         []string
	Dir         string
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
	ExtraFiles  []*os.File
	SysProcAttr *SysProcAttr

	Process      *Process
	ProcessState *ProcessState

	// Err is the LookPath error of Command, returned by Start.
	Err error

	// Cancel, if set, is called when the context of CommandContext is
	// done; by default it kills the process.
	Cancel func() error
	// WaitDelay bounds the wait for the I/O pipes after the process
	// has ended or Cancel was called; then they are closed (and the
	// process killed).
	WaitDelay time.Duration

	// Client is the daemon connection to use; nil: DefaultClient().
	Client *Client
	// Detach lets the child outlive the connection.
	Detach bool
	// Timeout stops the child (SIGTERM, then SIGKILL after the grace)
	// this long after it started (rounded up to whole ms); 0: never.
	Timeout time.Duration
	// Grace is the time between SIGTERM and SIGKILL when the child is
	// stopped; 0: the daemon's default (5 s), negative: none.
	Grace time.Duration
	// Rlimits are set in the child; others are the daemon's.
	Rlimits []Rlimit
	// Umask, if not nil, is the child's umask; nil: the caller's.
	Umask *uint32

	ctx           context.Context
	childIOFiles  []io.Closer
	parentIOPipes []io.Closer
	goroutine     []func() error
	goroutineErr  <-chan error
	ctxResult     <-chan ctxResult
	startCalled   bool
	waitCalled    bool
}

type ctxResult struct {
	err   error
	timer *time.Timer
}

// Command returns a Cmd to run name with the given arguments.  A name
// without a slash is looked up with LookPath, in this process's PATH.
func Command(name string, arg ...string) *Cmd {
	cmd := &Cmd{Path: name, Args: append([]string{name}, arg...)}
	if filepath.Base(name) == name {
		lp, err := LookPath(name)
		if lp != "" {
			cmd.Path = lp
		}
		if err != nil {
			cmd.Err = err
		}
	}
	return cmd
}

// CommandContext is Command with a context: when ctx is done before the
// command completes, Cancel is called (by default, Process.Kill).
func CommandContext(ctx context.Context, name string, arg ...string) *Cmd {
	if ctx == nil {
		panic("nil Context")
	}
	cmd := Command(name, arg...)
	cmd.ctx = ctx
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	return cmd
}

// String returns the command line, for logs.
func (c *Cmd) String() string {
	if c.Err != nil || c.Path == "" {
		return strings.Join(c.Args, " ")
	}
	b := new(strings.Builder)
	b.WriteString(c.Path)
	for _, a := range c.argv()[1:] {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	return b.String()
}

func (c *Cmd) argv() []string {
	if len(c.Args) > 0 {
		return c.Args
	}
	return []string{c.Path}
}

// Environ returns the environment the command would run in: Env, or
// this process's environment (with PWD set to Dir if Dir is set);
// duplicates resolved as os/exec does, the last one winning.
func (c *Cmd) Environ() []string {
	env, _ := c.environ()
	return env
}

func (c *Cmd) environ() ([]string, error) {
	var err error
	env := c.Env
	if env == nil {
		env = os.Environ()
		if c.Dir != "" {
			if pwd, aerr := filepath.Abs(c.Dir); aerr == nil {
				env = append(env, "PWD="+pwd)
			} else {
				err = aerr
			}
		}
	}
	out := make([]string, 0, len(env))
	saw := make(map[string]int, len(env))
	for _, kv := range env {
		if strings.IndexByte(kv, 0) >= 0 {
			err = errors.New("exec: environment variable " +
				"contains NUL")
			continue
		}
		i := strings.IndexByte(kv, '=')
		if i <= 0 {
			// The daemon refuses these (protocol.md 5.3).
			continue
		}
		if j, dup := saw[kv[:i]]; dup {
			out[j] = kv
			continue
		}
		saw[kv[:i]] = len(out)
		out = append(out, kv)
	}
	return out, err
}

// closeDescriptors closes each closer, ignoring errors.
func closeDescriptors(closers []io.Closer) {
	for _, fd := range closers {
		fd.Close()
	}
}

func (c *Cmd) childStdin() (*os.File, error) {
	if c.Stdin == nil {
		f, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		c.childIOFiles = append(c.childIOFiles, f)
		return f, nil
	}
	if f, ok := c.Stdin.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.childIOFiles = append(c.childIOFiles, pr)
	c.parentIOPipes = append(c.parentIOPipes, pw)
	c.goroutine = append(c.goroutine, func() error {
		_, err := io.Copy(pw, c.Stdin)
		if skipStdinCopyError(err) {
			err = nil
		}
		if err1 := pw.Close(); err == nil {
			err = err1
		}
		return err
	})
	return pr, nil
}

// skipStdinCopyError: the child may well not read all its input.
func skipStdinCopyError(err error) bool {
	var pe *fs.PathError
	return err != nil && (errors.Is(err, os.ErrClosed) ||
		(errors.As(err, &pe) && pe.Op == "write" &&
			pe.Err == syscall.EPIPE))
}

func (c *Cmd) childStdout() (*os.File, error) {
	return c.writerDescriptor(c.Stdout)
}

func (c *Cmd) childStderr(childStdout *os.File) (*os.File, error) {
	if c.Stderr != nil && interfaceEqual(c.Stderr, c.Stdout) {
		return childStdout, nil
	}
	return c.writerDescriptor(c.Stderr)
}

func interfaceEqual(a, b interface{}) bool {
	defer func() { recover() }()
	return a == b
}

func (c *Cmd) writerDescriptor(w io.Writer) (*os.File, error) {
	if w == nil {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		c.childIOFiles = append(c.childIOFiles, f)
		return f, nil
	}
	if f, ok := w.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.childIOFiles = append(c.childIOFiles, pw)
	c.parentIOPipes = append(c.parentIOPipes, pr)
	c.goroutine = append(c.goroutine, func() error {
		_, err := io.Copy(w, pr)
		pr.Close()
		return err
	})
	return pw, nil
}

// Run starts the command and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Start starts the command through the daemon; it does not wait for it
// to complete.  Once Start returns nil, the program has been executed:
// every failure up to and including the exec is an *Error from Start.
func (c *Cmd) Start() error {
	if c.Path == "" && c.Err == nil {
		c.Err = errors.New("exec: no command")
	}
	if c.Err != nil || c.startCalled {
		closeDescriptors(c.childIOFiles)
		c.childIOFiles = nil
		closeDescriptors(c.parentIOPipes)
		c.parentIOPipes = nil
		if c.Err != nil {
			return c.Err
		}
		return errors.New("exec: already started")
	}
	c.startCalled = true
	if c.ctx != nil {
		select {
		case <-c.ctx.Done():
			closeDescriptors(c.childIOFiles)
			c.childIOFiles = nil
			closeDescriptors(c.parentIOPipes)
			c.parentIOPipes = nil
			return c.ctx.Err()
		default:
		}
	}
	p, err := c.start()
	closeDescriptors(c.childIOFiles)
	c.childIOFiles = nil
	if err != nil {
		closeDescriptors(c.parentIOPipes)
		c.parentIOPipes = nil
		return err
	}
	c.Process = p
	if len(c.goroutine) > 0 {
		goroutineErr := make(chan error, 1)
		c.goroutineErr = goroutineErr
		type goroutineStatus struct {
			running  int
			firstErr error
		}
		statusc := make(chan goroutineStatus, 1)
		statusc <- goroutineStatus{running: len(c.goroutine)}
		for _, fn := range c.goroutine {
			go func(fn func() error) {
				err := fn()
				status := <-statusc
				if status.firstErr == nil {
					status.firstErr = err
				}
				status.running--
				if status.running == 0 {
					goroutineErr <- status.firstErr
				} else {
					statusc <- status
				}
			}(fn)
		}
		c.goroutine = nil
	}
	if (c.Cancel != nil || c.WaitDelay != 0) && c.ctx != nil &&
		c.ctx.Done() != nil {
		resultc := make(chan ctxResult)
		c.ctxResult = resultc
		go c.watchCtx(resultc)
	}
	return nil
}

// start builds and sends the spawn request.
func (c *Cmd) start() (*Process, error) {
	env, err := c.environ()
	if err != nil {
		return nil, err
	}
	var files []*os.File // child fd n, nil for none
	stdin, err := c.childStdin()
	if err != nil {
		return nil, err
	}
	stdout, err := c.childStdout()
	if err != nil {
		return nil, err
	}
	stderr, err := c.childStderr(stdout)
	if err != nil {
		return nil, err
	}
	files = append(files, stdin, stdout, stderr)
	files = append(files, c.ExtraFiles...)
	defer runtime.KeepAlive(files)

	var fds []int
	index := map[int]int{} // our fd -> index in fds
	pass := func(fd int) uint32 {
		i, ok := index[fd]
		if !ok {
			i = len(fds)
			index[fd] = i
			fds = append(fds, fd)
		}
		return uint32(i)
	}
	var w body
	var flags uint32
	if a := c.SysProcAttr; a != nil {
		if a.Setsid {
			flags |= spawnSetsid
		}
		if a.KillGroup {
			flags |= spawnKillGroup
		}
	}
	if c.Detach {
		flags |= spawnDetach
	}
	w.u32(flags)
	w.strv(recArgv, c.argv())
	w.strv(recEnv, env)
	w.recStr(recPath, c.Path)
	if filepath.IsAbs(c.Dir) {
		w.recStr(recCwd, c.Dir)
	} else {
		// A relative Dir, like no Dir, is the caller's, not the
		// daemon's: pass the directory itself.
		dir := c.Dir
		if dir == "" {
			dir = "."
		}
		dfd, err := syscall.Open(dir, oPath|
			syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return nil, &Error{Name: c.Path, Err: err,
				Step: StepChdir, Index: -1}
		}
		defer syscall.Close(dfd)
		w.recU32(recCwdFD, pass(dfd))
	}
	for n, f := range files {
		if f != nil {
			w.recU32(recFD, pass(int(f.Fd())), uint32(n))
		}
	}
	if a := c.SysProcAttr; a != nil {
		if a.Setpgid && !a.Setsid {
			w.recU32(recPgroup, uint32(a.Pgid))
		}
	}
	um := c.Umask
	if um == nil {
		m, err := callerUmask()
		if err != nil {
			return nil, err
		}
		um = &m
	}
	w.recU32(recUmask, *um)
	for _, r := range c.Rlimits {
		end := w.rec(recRlimit)
		w.u32(uint32(r.Resource))
		w.u64(r.Cur)
		w.u64(r.Max)
		end()
	}
	if c.Timeout > 0 {
		w.recU32(recTimeout, durationMs(c.Timeout))
	}
	if c.Grace != 0 {
		g := uint32(0)
		if c.Grace > 0 {
			g = durationMs(c.Grace)
		}
		w.recU32(recGrace, g)
	}
	cl := c.Client
	if cl == nil {
		if cl, err = DefaultClient(); err != nil {
			return nil, err
		}
	}
	return cl.spawn(c.Path, w.b, fds)
}

// durationMs rounds up to whole ms, within a u32.
func durationMs(d time.Duration) uint32 {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 0xffffffff {
		ms = 0xffffffff
	}
	return uint32(ms)
}

// callerUmask reads this process's umask without changing it (which
// umask(2) would do, racing with other goroutines creating files).
func callerUmask() (uint32, error) {
	v, err := procField("/proc/self/status", "Umask:")
	if err != nil {
		return 0, err
	}
	m, err := strconv.ParseUint(v, 8, 32)
	return uint32(m), err
}

// watchCtx calls Cancel when the context is done first, and bounds the
// wait for the I/O with WaitDelay: os/exec's logic of Go 1.20.
func (c *Cmd) watchCtx(resultc chan<- ctxResult) {
	select {
	case resultc <- ctxResult{}:
		return
	case <-c.ctx.Done():
	}
	var err error
	if c.Cancel != nil {
		if ierr := c.Cancel(); ierr == nil {
			err = c.ctx.Err()
		} else if !errors.Is(ierr, os.ErrProcessDone) {
			err = wrappedError{"exec: canceling Cmd", ierr}
		}
	}
	if c.WaitDelay == 0 {
		resultc <- ctxResult{err: err}
		return
	}
	timer := time.NewTimer(c.WaitDelay)
	select {
	case resultc <- ctxResult{err: err, timer: timer}:
		return
	case <-timer.C:
	}
	killed := false
	if kerr := c.Process.Kill(); kerr == nil {
		killed = true
	} else if !errors.Is(kerr, os.ErrProcessDone) {
		err = wrappedError{"exec: killing Cmd", kerr}
	}
	if c.goroutineErr != nil {
		select {
		case gerr := <-c.goroutineErr:
			if err == nil && !killed {
				err = gerr
			}
		default:
			closeDescriptors(c.parentIOPipes)
			<-c.goroutineErr
			if err == nil {
				err = ErrWaitDelay
			}
		}
		c.goroutineErr = nil
	}
	resultc <- ctxResult{err: err}
}

type wrappedError struct {
	prefix string
	err    error
}

func (w wrappedError) Error() string { return w.prefix + ": " + w.err.Error() }
func (w wrappedError) Unwrap() error { return w.err }

// ExitError reports an unsuccessful exit, as os/exec.ExitError does.
type ExitError struct {
	*ProcessState
	// Stderr holds some of the standard error output of Output, when
	// Cmd.Stderr was nil.
	Stderr []byte
}

func (e *ExitError) Error() string { return e.ProcessState.String() }

// Wait waits for the command to exit and for its I/O copying to end.
func (c *Cmd) Wait() error {
	if c.Process == nil {
		return errors.New("exec: not started")
	}
	if c.ProcessState != nil || c.waitCalled {
		return errors.New("exec: Wait was already called")
	}
	c.waitCalled = true
	state, err := c.Process.Wait()
	if err == nil && !state.Success() {
		err = &ExitError{ProcessState: state}
	}
	c.ProcessState = state
	var timer *time.Timer
	if c.ctxResult != nil {
		watch := <-c.ctxResult
		timer = watch.timer
		if err == nil && watch.err != nil {
			err = watch.err
		}
	}
	if gerr := c.awaitGoroutines(timer); err == nil {
		err = gerr
	}
	closeDescriptors(c.parentIOPipes)
	c.parentIOPipes = nil
	return err
}

func (c *Cmd) awaitGoroutines(timer *time.Timer) error {
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		c.goroutineErr = nil
	}()
	if c.goroutineErr == nil {
		return nil
	}
	if timer == nil {
		if c.WaitDelay == 0 {
			return <-c.goroutineErr
		}
		select {
		case err := <-c.goroutineErr:
			return err
		default:
		}
		timer = time.NewTimer(c.WaitDelay)
	}
	select {
	case <-timer.C:
		closeDescriptors(c.parentIOPipes)
		<-c.goroutineErr
		return ErrWaitDelay
	case err := <-c.goroutineErr:
		return err
	}
}

// Output runs the command and returns its standard output.  If Stderr
// was nil, an *ExitError carries some of the standard error.
func (c *Cmd) Output() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("exec: Stdout already set")
	}
	var stdout bytes.Buffer
	c.Stdout = &stdout
	captureErr := c.Stderr == nil
	if captureErr {
		c.Stderr = &prefixSuffixSaver{N: 32 << 10}
	}
	err := c.Run()
	if err != nil && captureErr {
		var ee *ExitError
		if errors.As(err, &ee) {
			ee.Stderr = c.Stderr.(*prefixSuffixSaver).Bytes()
		}
	}
	return stdout.Bytes(), err
}

// CombinedOutput runs the command and returns its standard output and
// standard error together.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("exec: Stdout already set")
	}
	if c.Stderr != nil {
		return nil, errors.New("exec: Stderr already set")
	}
	var b bytes.Buffer
	c.Stdout = &b
	c.Stderr = &b
	err := c.Run()
	return b.Bytes(), err
}

// StdinPipe returns a pipe connected to the command's standard input;
// Wait closes it.
func (c *Cmd) StdinPipe() (io.WriteCloser, error) {
	if c.Stdin != nil {
		return nil, errors.New("exec: Stdin already set")
	}
	if c.Process != nil {
		return nil, errors.New("exec: StdinPipe after process started")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.Stdin = pr
	c.childIOFiles = append(c.childIOFiles, pr)
	wc := &closeOnce{File: pw}
	c.parentIOPipes = append(c.parentIOPipes, wc)
	return wc, nil
}

type closeOnce struct {
	*os.File
	once sync.Once
	err  error
}

func (c *closeOnce) Close() error {
	c.once.Do(func() { c.err = c.File.Close() })
	return c.err
}

// StdoutPipe returns a pipe connected to the command's standard output;
// Wait closes it, so read it all before calling Wait.
func (c *Cmd) StdoutPipe() (io.ReadCloser, error) {
	if c.Stdout != nil {
		return nil, errors.New("exec: Stdout already set")
	}
	if c.Process != nil {
		return nil, errors.New("exec: StdoutPipe after process started")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.Stdout = pw
	c.childIOFiles = append(c.childIOFiles, pw)
	c.parentIOPipes = append(c.parentIOPipes, pr)
	return pr, nil
}

// StderrPipe returns a pipe connected to the command's standard error;
// Wait closes it, so read it all before calling Wait.
func (c *Cmd) StderrPipe() (io.ReadCloser, error) {
	if c.Stderr != nil {
		return nil, errors.New("exec: Stderr already set")
	}
	if c.Process != nil {
		return nil, errors.New("exec: StderrPipe after process started")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.Stderr = pw
	c.childIOFiles = append(c.childIOFiles, pw)
	c.parentIOPipes = append(c.parentIOPipes, pr)
	return pr, nil
}

// prefixSuffixSaver keeps the first and last N bytes written to it.
type prefixSuffixSaver struct {
	N         int
	prefix    []byte
	suffix    []byte
	suffixOff int
	skipped   int64
}

func (w *prefixSuffixSaver) Write(p []byte) (int, error) {
	lenp := len(p)
	p = w.fill(&w.prefix, p)
	if overage := len(p) - w.N; overage > 0 {
		p = p[overage:]
		w.skipped += int64(overage)
	}
	p = w.fill(&w.suffix, p)
	for len(p) > 0 {
		n := copy(w.suffix[w.suffixOff:], p)
		p = p[n:]
		w.skipped += int64(n)
		w.suffixOff += n
		if w.suffixOff == w.N {
			w.suffixOff = 0
		}
	}
	return lenp, nil
}

func (w *prefixSuffixSaver) fill(dst *[]byte, p []byte) []byte {
	if remain := w.N - len(*dst); remain > 0 {
		add := remain
		if len(p) < add {
			add = len(p)
		}
		*dst = append(*dst, p[:add]...)
		p = p[add:]
	}
	return p
}

func (w *prefixSuffixSaver) Bytes() []byte {
	if w.suffix == nil {
		return w.prefix
	}
	if w.skipped == 0 {
		return append(w.prefix, w.suffix...)
	}
	var buf bytes.Buffer
	buf.Grow(len(w.prefix) + len(w.suffix) + 50)
	buf.Write(w.prefix)
	buf.WriteString("\n... omitting ")
	buf.WriteString(strconv.FormatInt(w.skipped, 10))
	buf.WriteString(" bytes ...\n")
	buf.Write(w.suffix[w.suffixOff:])
	buf.Write(w.suffix[:w.suffixOff])
	return buf.Bytes()
}

// oPath is O_PATH, which package syscall lacks.
const oPath = 0x200000
