package spawnd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	defaultMu     sync.Mutex
	defaultClient *Client
)

// DefaultClient returns the connection that a Cmd without a Client
// uses: made by DialAutostart("", "", 10 s) on first use, and again
// when the previous one has failed.
func DefaultClient() (*Client, error) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultClient != nil && defaultClient.Err() == nil {
		return defaultClient, nil
	}
	c, err := DialAutostart("", "", 10*time.Second)
	if err != nil {
		return nil, err
	}
	defaultClient = c
	return c, nil
}

// Tuning of the autostart, as in libspawnd.
const (
	autostartPoll  = 10 * time.Millisecond // start lock retries
	autostartTries = 5                     // daemon starts per call
	autostartRetry = 50 * time.Millisecond // between them
)

// DialAutostart is Dial, but if no daemon listens on path (ENOENT or
// ECONNREFUSED) it starts a private one, as libspawnd's
// spawnd_connect_autostart does: under an flock on PATH.start.lock it
// tries again and, if still nobody answers, runs
// "DAEMON --background --exit-idle-time=60 --socket PATH" in a session
// of its own with /dev/null on 0-2, waits for its first process to exit
// (which it does once the socket listens) and connects.  The socket's
// directory is created (0700) if missing.  daemon defaults to
// $SPAWND_DAEMON, else "spawnd" searched in PATH.  Starting the daemon
// is the one fork this package does.
func DialAutostart(path, daemon string, timeout time.Duration) (*Client,
	error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	c, err := Dial(path, timeout)
	if !absent(err) {
		return c, err
	}
	if path == "" {
		path = SocketPath()
	}
	dir := filepath.Dir(path)
	if dir != "/" && dir != "." {
		_ = os.Mkdir(dir, 0700)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	if daemon == "" {
		daemon = os.Getenv("SPAWND_DAEMON")
	}
	if daemon == "" {
		daemon = "spawnd"
	}
	lock, err := os.OpenFile(path+".start.lock",
		os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW, 0600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	for {
		err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|
			syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			return nil, os.NewSyscallError("flock", err)
		}
		if late(deadline) {
			return nil, syscall.ETIMEDOUT
		}
		time.Sleep(autostartPoll)
	}
	for i := 0; ; i++ {
		left := time.Duration(0)
		if !deadline.IsZero() {
			if left = time.Until(deadline); left <= 0 {
				return nil, syscall.ETIMEDOUT
			}
		}
		c, err := Dial(path, left)
		if !absent(err) {
			return c, err
		}
		if i == autostartTries {
			return nil, fmt.Errorf("spawnd: started %s %d "+
				"times, still no daemon on %s: %w", daemon, i,
				path, syscall.EIO)
		}
		if i > 0 {
			time.Sleep(autostartRetry)
		}
		if err := runDaemon(daemon, path, deadline); err != nil &&
			!errors.Is(err, syscall.EIO) {
			return nil, err
		}
	}
}

func absent(err error) bool {
	return errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, syscall.ECONNREFUSED)
}

func late(deadline time.Time) bool {
	return !deadline.IsZero() && !time.Now().Before(deadline)
}

// runDaemon starts the daemon and waits for its first process.
func runDaemon(daemon, path string, deadline time.Time) error {
	if !strings.Contains(daemon, "/") {
		lp, err := exec.LookPath(daemon)
		if err != nil {
			return err
		}
		daemon = lp
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC",
			"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES":
			continue
		}
		env = append(env, kv)
	}
	p, err := os.StartProcess(daemon, []string{daemon, "--background",
		"--exit-idle-time=60", "--socket", path}, &os.ProcAttr{
		Env: env, Files: []*os.File{null, null, null},
		Sys: &syscall.SysProcAttr{Setsid: true}})
	if err != nil {
		return err
	}
	res := make(chan error, 1)
	go func() {
		st, err := p.Wait()
		if err == nil && !st.Success() {
			err = fmt.Errorf("spawnd: %s: %v: %w", daemon, st,
				syscall.EIO)
		}
		res <- err
	}()
	var tc <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		tc = t.C
	}
	select {
	case err := <-res:
		return err
	case <-tc:
		return syscall.ETIMEDOUT
	}
}

// checkDir refuses to start a daemon in a directory that another user
// controls: it must be a directory (not a symlink) owned by us or root,
// writable by nobody else unless sticky.
func checkDir(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	bad := ""
	switch {
	case !st.IsDir():
		bad = "not a directory"
	case !ok || (int(sys.Uid) != os.Geteuid() && sys.Uid != 0):
		bad = "owned by another user"
	case sys.Mode&0022 != 0 && sys.Mode&syscall.S_ISVTX == 0:
		bad = "writable by others"
	}
	if bad != "" {
		return fmt.Errorf("spawnd: will not start a daemon in %s: %s: "+
			"%w", dir, bad, syscall.EPERM)
	}
	return nil
}
