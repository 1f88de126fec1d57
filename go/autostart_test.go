package spawnd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DialAutostart starts one private daemon for racing callers; its
// children pass the pidfd check although the daemon forked after
// listen() (SO_PEERCRED names its first process).
func TestAutostart(t *testing.T) {
	dir, err := os.MkdirTemp("", "spawnd-auto.")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "sub", "socket") // sub/ is made
	t.Setenv("SPAWND_DAEMON", daemonBin)
	var wg sync.WaitGroup
	clients := make([]*Client, 4)
	errs := make([]error, 4)
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			clients[i], errs[i] = DialAutostart(sock, "",
				30*time.Second)
		}(i)
	}
	wg.Wait()
	pid := 0
	for i, c := range clients {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		defer c.Close()
		if pid == 0 {
			pid = c.DaemonPid()
			defer func() {
				syscall.Kill(pid, syscall.SIGTERM)
				waitGone(t, pid)
			}()
		}
		if c.DaemonPid() != pid {
			t.Errorf("two daemons: %d and %d", pid, c.DaemonPid())
		}
	}
	if c := clients[0]; c.serverPid == c.DaemonPid() {
		t.Logf("the daemon listened itself (pid %d)", c.serverPid)
	}
	if st, err := os.Stat(filepath.Dir(sock)); err != nil ||
		st.Mode().Perm() != 0700 {
		t.Errorf("socket dir: %v %v", st, err)
	}
	cmd := Command("echo", "auto")
	cmd.Client = clients[1]
	if out, err := cmd.Output(); err != nil || string(out) != "auto\n" {
		t.Fatalf("%q %v", out, err)
	}
	if p, err := clients[2].Ping(context.Background()); err != nil ||
		p.Connections != 4 {
		t.Errorf("%+v %v", p, err)
	}
	// Not in a directory others may write to.
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0700)
	os.Chmod(open, 0777)
	_, err = DialAutostart(filepath.Join(open, "socket"), "", time.Second)
	if !errors.Is(err, syscall.EPERM) {
		t.Errorf("a 0777 directory: %v", err)
	}
	// A daemon that cannot be started: the error says so.
	_, err = DialAutostart(filepath.Join(dir, "other"), "/nonexistent",
		5*time.Second)
	if err == nil || !os.IsNotExist(err) {
		t.Errorf("no daemon binary: %v", err)
	}
}
