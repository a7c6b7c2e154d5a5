package mem

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestLargeLoad transacts about 3 million datoms of the random benchmark
// workload and logs throughput and heap use. It runs only when MEM_LARGE is
// set: MEM_LARGE=1 go test -run LargeLoad -v ./datomic/mem
func TestLargeLoad(t *testing.T) {
	if os.Getenv("MEM_LARGE") == "" {
		t.Skip("set MEM_LARGE=1 to run")
	}
	r := rand.New(rand.NewPCG(1, 2))
	c := New(Options{})
	benchSchema(t, c)
	seq := 0
	ctx := context.Background()
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(0, &ru0)
	start := time.Now()
	var gen time.Duration
	for range 5000 {
		g := time.Now()
		ops := randomTx(r, &seq, 100)
		gen += time.Since(g)
		if _, err := c.Transact(ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start) - gen
	syscall.Getrusage(0, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()+ru1.Stime.Nano()-ru0.Stime.Nano()) - gen
	t.Logf("cpu %v wall %v: %.0f datoms per cpu-second", cpu, el, float64(c.Stats().Facts)/cpu.Seconds())
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	s := c.Stats()
	t.Logf("facts %d live %d entities %d: %.0f datoms/s wall (generation excluded) heap %d MB, %.0f B/fact",
		s.Facts, s.Datoms, s.Entities, float64(s.Facts)/el.Seconds(), (ms.HeapInuse-ms0.HeapInuse)>>20, float64(ms.HeapInuse-ms0.HeapInuse)/float64(s.Facts))
}
