// Command spawnd-etxtbsy runs the write-then-exec workload of
// golang/go#22315 with os/exec and with package spawnd, and prints one
// line per mode:
//
//	MODE ok=N etxtbsy=N errors=N seconds=S rate=RUNS_PER_S
//
// then the throughput ratio spawnd/os/exec.  It exits 1 if the spawnd
// mode saw any ETXTBSY or error.
//
//	spawnd-etxtbsy [-n goroutines] [-rounds N] [-size bytes]
//	    [-mode both|os/exec|spawnd] [-conns N] [-socket PATH] [-dir DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"

	"spawnd.example/spawnd"
	"spawnd.example/spawnd/internal/txtbusy"
)

func main() {
	os.Exit(run())
}

func run() int {
	n := flag.Int("n", 20, "goroutines")
	rounds := flag.Int("rounds", 100, "rounds per goroutine")
	size := flag.Int("size", 1<<20, "bytes of the executable")
	mode := flag.String("mode", "both", "both, os/exec or spawnd")
	conns := flag.Int("conns", 1, "connections to the daemon (spawnd)")
	sock := flag.String("socket", "", "the daemon's socket "+
		"(default: spawnd.SocketPath())")
	dir := flag.String("dir", "", "where the programs are written "+
		"(default: a new temporary directory)")
	flag.Parse()
	if runtime.GOMAXPROCS(0) < 4 {
		runtime.GOMAXPROCS(4)
	}
	prog, err := txtbusy.Program(*size)
	if err != nil {
		return fatal(err)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "spawnd-etxtbsy.")
		if err != nil {
			return fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	fmt.Printf("# %d goroutines x %d rounds, %d-byte executable in "+
		"4 KiB writes, GOMAXPROCS %d, %d CPUs\n", *n, *rounds,
		len(prog), runtime.GOMAXPROCS(0), runtime.NumCPU())
	var ex, sp txtbusy.Result
	if *mode == "both" || *mode == "os/exec" {
		ex = txtbusy.Run(*dir, *n, *rounds, prog, func(p string) error {
			return exec.Command(p).Run()
		})
		fmt.Println("os/exec", ex)
	}
	bad := false
	if *mode == "both" || *mode == "spawnd" {
		clients := make([]*spawnd.Client, *conns)
		for i := range clients {
			if clients[i], err = spawnd.Dial(*sock,
				10*time.Second); err != nil {
				return fatal(err)
			}
		}
		next := make(chan int, 1)
		next <- 0
		sp = txtbusy.Run(*dir, *n, *rounds, prog, func(p string) error {
			i := <-next
			next <- (i + 1) % len(clients)
			cmd := spawnd.Command(p)
			cmd.Client = clients[i]
			return cmd.Run()
		})
		fmt.Println("spawnd", sp)
		if sp.FirstError != nil {
			fmt.Println("# spawnd: first error:", sp.FirstError)
		}
		bad = sp.Etxtbsy != 0 || sp.Errors != 0
	}
	if *mode == "both" {
		fmt.Printf("ratio spawnd/os-exec %.2f\n", sp.Rate()/ex.Rate())
	}
	if bad {
		return 1
	}
	return 0
}

func fatal(err error) int {
	fmt.Fprintln(os.Stderr, "spawnd-etxtbsy:", err)
	return 2
}
