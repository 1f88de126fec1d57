package spawnd_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"spawnd.example/spawnd"
)

func ExampleCommand() {
	cmd := spawnd.Command("tr", "a-z", "A-Z")
	cmd.Stdin = strings.NewReader("some input")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		fmt.Println(err)
	}
	fmt.Println(out.String())
	// Output: SOME INPUT
}

func ExampleCmd_Output() {
	out, err := spawnd.Command("date", "-u", "-d", "@0", "+%Y").Output()
	fmt.Printf("%s%v\n", out, err)
	// Output:
	// 1970
	// <nil>
}

func ExampleCmd_StdoutPipe() {
	cmd := spawnd.Command("echo", "through a pipe")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := cmd.Start(); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := io.ReadAll(stdout)
	fmt.Print(string(b))
	fmt.Println(cmd.Wait())
	// Output:
	// through a pipe
	// <nil>
}

func ExampleCommandContext() {
	ctx, cancel := context.WithTimeout(context.Background(),
		100*time.Millisecond)
	defer cancel()
	err := spawnd.CommandContext(ctx, "sleep", "5").Run()
	fmt.Println(err)
	// Output: signal: killed
}

func ExampleExitError() {
	err := spawnd.Command("sh", "-c", "exit 3").Run()
	var ee *spawnd.ExitError
	if errors.As(err, &ee) {
		fmt.Println(ee.ExitCode(), ee.Sys().(syscall.WaitStatus).Exited())
	}
	// Output: 3 true
}

func ExampleError() {
	err := spawnd.Command("/nonexistent/program").Run()
	var e *spawnd.Error
	if errors.As(err, &e) {
		fmt.Println(e.Step, e.Err == syscall.ENOENT)
	}
	// Output: exec true
}

func ExampleCmd_Timeout() {
	cmd := spawnd.Command("sleep", "5")
	cmd.Timeout = 100 * time.Millisecond // the daemon stops it
	fmt.Println(cmd.Run())
	// Output: signal: terminated
}

func ExampleLookPath() {
	_, err := spawnd.LookPath("no-such-program-anywhere")
	fmt.Println(errors.Is(err, spawnd.ErrNotFound))
	// Output: true
}
