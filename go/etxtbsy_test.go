package spawnd

import (
	"runtime"
	"testing"

	"spawnd.example/spawnd/internal/txtbusy"
)

// The workload of golang/go#22315 through spawnd: no ETXTBSY, no error.
// (os/exec is not run here: it shows ETXTBSY only now and then.)
func TestWriteThenExec(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 4 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	}
	prog, err := txtbusy.Program(1 << 20)
	if err != nil {
		t.Skip(err)
	}
	c := testClient(t)
	res := txtbusy.Run(t.TempDir(), 8, 10, prog, func(p string) error {
		cmd := Command(p)
		cmd.Client = c
		return cmd.Run()
	})
	t.Log(res)
	if res.Etxtbsy != 0 || res.Errors != 0 || res.OK != 80 {
		t.Fatalf("%v; first error: %v", res, res.FirstError)
	}
}
