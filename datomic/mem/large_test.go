package mem

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
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
	db := c.Snapshot()
	scan := time.Now()
	n := 0
	for _, err := range db.Datoms(ctx, datomic.EAVT) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	t.Logf("EAVT scan of %d datoms: %v", n, time.Since(scan))
	look := time.Now()
	for i := range 100000 {
		for range db.Datoms(ctx, datomic.AVET, datomic.Keyword("item/id"), fmt.Sprint("i", 1+i)) {
		}
	}
	t.Logf("100000 AVET lookups: %v", time.Since(look))
	rng := time.Now()
	for range db.IndexRange(ctx, datomic.Keyword("item/name"), nil, nil) {
	}
	t.Logf("AVET scan of :item/name: %v", time.Since(rng))
	t.Logf("facts %d live %d entities %d: %.0f datoms/s wall (generation excluded) heap %d MB, %.0f B/fact",
		s.Facts, s.Datoms, s.Entities, float64(s.Facts)/el.Seconds(), (ms.HeapInuse-ms0.HeapInuse)>>20, float64(ms.HeapInuse-ms0.HeapInuse)/float64(s.Facts))
}
