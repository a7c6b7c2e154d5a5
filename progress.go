package dcbackup

import (
	"sync"
	"time"
)

// Progress is a snapshot of a running backup, restore or replication,
// passed to the caller's progress callback.
type Progress struct {
	// Op is "backup", "restore" or "replicate".
	Op string
	// Segments, Transactions, Datoms and Bytes count the work done so far.
	Segments     int
	Transactions int
	Datoms       int
	Bytes        int64
	// T is the source t reached: the end of the latest segment written
	// (backup) or the last source t applied (restore).
	T int64
	// Elapsed is the time since the operation started.
	Elapsed time.Duration
}

// DatomsPerSecond is the average rate so far.
func (p Progress) DatomsPerSecond() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Datoms) / p.Elapsed.Seconds()
}

// progressReporter accumulates counts and calls the callback, one call at a
// time.
type progressReporter struct {
	mu    sync.Mutex
	fn    func(Progress)
	start time.Time
	p     Progress
}

func newProgressReporter(op string, fn func(Progress)) *progressReporter {
	return &progressReporter{fn: fn, start: time.Now(), p: Progress{Op: op}}
}

func (r *progressReporter) add(segments, txs, datoms int, bytes int64, t int64) {
	if r == nil || r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p.Segments += segments
	r.p.Transactions += txs
	r.p.Datoms += datoms
	r.p.Bytes += bytes
	r.p.T = max(r.p.T, t)
	r.p.Elapsed = time.Since(r.start)
	r.fn(r.p)
}
