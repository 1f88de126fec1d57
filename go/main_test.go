package spawnd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	d := exec.Command(daemonBin, "--socket", testSocket)
	d.Stderr = os.Stderr
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

func TestSmoke(t *testing.T) {
	out, err := Command("echo", "hi").Output()
	if err != nil || string(out) != "hi\n" {
		t.Fatalf("%q %v", out, err)
	}
	_ = context.Background()
}
