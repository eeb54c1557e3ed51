// Command fsyncrate measures how many fdatasync calls per second the disk
// under a directory completes, one after another, each after an 8 KiB
// write (what a database commit with synchronous=FULL or fsync=on costs
// at least): the ceiling of one-transaction-per-fsync throughput that
// `make bench` compares danbao's rate with.
//
//	go run ./internal/tools/fsyncrate -dir DIR [-duration 3s]
//
// Prints "fdatasync_per_s=N".
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "directory on the disk to measure")
	d := flag.Duration("duration", 3*time.Second, "how long to measure")
	flag.Parse()
	n, elapsed, err := measure(*dir, *d)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fsyncrate:", err)
		os.Exit(1)
	}
	fmt.Printf("fdatasync_per_s=%.0f\n", float64(n)/elapsed.Seconds())
}

// measure appends 8 KiB and calls fdatasync in a loop for d, in a
// scratch file it removes, and returns how many calls completed.
func measure(dir string, d time.Duration) (int, time.Duration, error) {
	f, err := os.CreateTemp(dir, "fsyncrate-*")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(filepath.Clean(f.Name()))
	defer f.Close()
	buf := make([]byte, 8192)
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		// Rewrite the same 1 MiB region, as a WAL does between checkpoints.
		if _, err := f.WriteAt(buf, int64(n%128)*8192); err != nil {
			return 0, 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, 0, err
		}
		n++
	}
	return n, time.Since(start), nil
}
