package spawnd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests run against a real daemon: $SPAWND (set by tests/run-tests.sh),
// else ../build/spawnd.  Without one, every test is skipped.
var (
	daemonBin  string
	testSocket string
	testDir    string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	daemonBin = os.Getenv("SPAWND")
	if daemonBin == "" {
		daemonBin, _ = filepath.Abs("../build/spawnd")
	}
	if _, err := os.Stat(daemonBin); err != nil {
		fmt.Printf("SKIP: no spawnd daemon (set SPAWND): %v\n", err)
		return 0
	}
	var err error
	if testDir, err = os.MkdirTemp("", "spawnd-go."); err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(testDir)
	testSocket = filepath.Join(testDir, "socket")
	// The daemon dies with this thread (Pdeathsig): keep to it.
	runtime.LockOSThread()
	d := exec.Command(daemonBin, "--socket", testSocket)
	d.Stderr = os.Stderr
	d.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := d.Start(); err != nil {
		fmt.Println(err)
		return 1
	}
	defer func() {
		d.Process.Signal(syscall.SIGTERM)
		d.Wait()
	}()
	// The DefaultClient (and every Command) finds the test daemon.
	os.Setenv("SPAWND_SOCKET", testSocket)
	os.Unsetenv("SPAWND_DAEMON")
	for i := 0; ; i++ {
		c, err := Dial(testSocket, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i == 500 {
			fmt.Println("the test daemon does not answer:", err)
			return 1
		}
		time.Sleep(10 * time.Millisecond)
	}
	return m.Run()
}

// testClient is a connection of its own to the test daemon.
func testClient(t *testing.T) *Client {
	t.Helper()
	c, err := Dial(testSocket, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// procStat returns fields 5 (pgrp) and 6 (session) of /proc/PID/stat.
func procStat(t *testing.T, pid int) (pgrp, sid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	s = s[strings.LastIndexByte(s, ')')+2:]
	var state string
	var ppid int
	if _, err := fmt.Sscan(s, &state, &ppid, &pgrp, &sid); err != nil {
		t.Fatal(err)
	}
	return pgrp, sid
}

// waitGone polls (bounded) until pid no longer runs.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("pid %d still runs", pid)
}

// sleeper starts a child that runs until killed, killed at cleanup.
func sleeper(t *testing.T, c *Client, attr *SysProcAttr) *Cmd {
	t.Helper()
	cmd := Command("sleep", "60")
	cmd.Client = c
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

var _ = context.Background
