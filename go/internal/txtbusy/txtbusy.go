// Package txtbusy is the write-then-exec workload of golang/go#22315:
// goroutines that each write an executable in small writes, close it and
// run it, again and again.  With fork (os/exec), another goroutine's
// child may still hold the file open for writing when it is executed,
// and the exec fails with ETXTBSY.
package txtbusy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Result counts the runs of one workload.
type Result struct {
	OK, Etxtbsy, Errors int
	FirstError          error
	Elapsed             time.Duration
}

func (r Result) String() string {
	rate := float64(r.OK+r.Etxtbsy+r.Errors) / r.Elapsed.Seconds()
	return fmt.Sprintf("ok=%d etxtbsy=%d errors=%d seconds=%.2f rate=%.0f",
		r.OK, r.Etxtbsy, r.Errors, r.Elapsed.Seconds(), rate)
}

// Rate is runs per second.
func (r Result) Rate() float64 {
	return float64(r.OK+r.Etxtbsy+r.Errors) / r.Elapsed.Seconds()
}

// Program returns an executable of about size bytes: /bin/true (or
// /usr/bin/true) padded with zeros, which the ELF loader ignores.
func Program(size int) ([]byte, error) {
	b, err := os.ReadFile("/bin/true")
	if err != nil {
		if b, err = os.ReadFile("/usr/bin/true"); err != nil {
			return nil, err
		}
	}
	if len(b) < size {
		b = append(b, make([]byte, size-len(b))...)
	}
	return b, nil
}

// Run makes goroutines goroutines, each of which, rounds times, writes
// prog to a file of its own in dir in 4 KiB writes
// (O_WRONLY|O_CREATE|O_TRUNC, close-on-exec, mode 0755), closes it and
// calls run on it.
func Run(dir string, goroutines, rounds int, prog []byte,
	run func(path string) error) Result {
	var mu sync.Mutex
	var res Result
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			path := filepath.Join(dir, fmt.Sprintf("prog-%d", g))
			for r := 0; r < rounds; r++ {
				err := write(path, prog)
				if err == nil {
					err = run(path)
				}
				mu.Lock()
				switch {
				case err == nil:
					res.OK++
				case errors.Is(err, syscall.ETXTBSY):
					res.Etxtbsy++
				default:
					res.Errors++
					if res.FirstError == nil {
						res.FirstError = err
					}
				}
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

func write(path string, prog []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0755)
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	for off := 0; off < len(prog); off += 4096 {
		end := off + 4096
		if end > len(prog) {
			end = len(prog)
		}
		if _, err := f.Write(prog[off:end]); err != nil {
			f.Close()
			return fmt.Errorf("write: %w", err)
		}
	}
	return f.Close()
}
