package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/benchwork"
)

// runLatency measures restores that wait on the store: a store of
// -latency-segments one-transaction segments (BackupNext with
// MaxTxPerSegment 1, as a scheduler calling it every minute leaves on a
// quiet database) behind a wrapper that adds -latency to every read
// request, restored with the default options; then the same store after
// Compact. The serial floor is one latency per segment: what a restore
// that loads one segment at a time cannot go below.
func runLatency(ctx context.Context, cfg config) error {
	n := cfg.latencySegments
	if n < 1 {
		return fmt.Errorf("-latency-segments %d: want at least 1", n)
	}
	src, err := benchwork.NewSource(ctx, benchwork.Config{Seed: 1, Transactions: n})
	if err != nil {
		return err
	}
	inner := dcbackup.NewMemStore()
	begin := time.Now()
	bk, err := benchwork.BackupOneTxSegments(ctx, dbName, src, inner)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "  %d one-transaction segments written in %.1fs (BackupNext, MaxTxPerSegment 1, no latency)\n", bk.Segments, time.Since(begin).Seconds())
	store := benchwork.NewLatencyStore(inner, cfg.latency)
	floor := time.Duration(bk.Segments) * cfg.latency

	g := &grid{header: []string{"stage", "segments", "transactions", "datoms", "seconds", "segments/s", "datoms/s", "CPU s",
		"x serial floor", "floor/seconds", "loads", "heads", "lists", "requests/segment"}}
	options := fmt.Sprintf("default RestoreOptions (Prefetch %d)", defaultPrefetch)
	if cfg.prefetch > 0 {
		options = fmt.Sprintf("RestoreOptions.Prefetch %d", cfg.prefetch)
	}
	g.note("latency %v per Load, LoadHead, List and Last; serial floor %d segments x %v = %.1fs; target %s; %s",
		cfg.latency, bk.Segments, cfg.latency, floor.Seconds(), cfg.target, options)
	restoreRow := func(stage string, segments int) error {
		r, err := bestRestore(ctx, store, cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", stage, err)
		}
		reqs := r.requests
		g.add(stage, itoa(int64(segments)), itoa(int64(r.txs)), itoa(int64(r.datoms)), secs(r.dur),
			per(float64(segments), r.dur.Seconds(), 1), per(float64(r.datoms), r.dur.Seconds(), 0), secs(r.cpu),
			per(r.dur.Seconds(), floor.Seconds(), 3), per(floor.Seconds(), ifPositive(floor, r.dur).Seconds(), 1),
			itoa(reqs.Loads), itoa(reqs.LoadHeads), itoa(reqs.Lists+reqs.Lasts), per(float64(reqs.Total()), float64(segments), 2))
		fmt.Fprintf(os.Stderr, "  %-40s %8.3fs (%s x serial floor)\n", stage, r.dur.Seconds(), per(r.dur.Seconds(), floor.Seconds(), 3))
		return nil
	}
	if err := restoreRow(fmt.Sprintf("restore, %d one-tx segments", bk.Segments), bk.Segments); err != nil {
		return err
	}

	before := store.Requests()
	cpu0 := cpuTime()
	begin = time.Now()
	cr, err := dcbackup.Compact(ctx, dbName, store, nil)
	if err != nil {
		return err
	}
	dur, cpu, reqs := time.Since(begin), cpuTime()-cpu0, store.Requests().Sub(before)
	g.add(fmt.Sprintf("compact, %d -> %d segments", cr.Before, cr.After), itoa(int64(cr.Before)), "", "", secs(dur),
		per(float64(cr.Before), dur.Seconds(), 1), "", secs(cpu), per(dur.Seconds(), floor.Seconds(), 3), per(floor.Seconds(), ifPositive(floor, dur).Seconds(), 1),
		itoa(reqs.Loads), itoa(reqs.LoadHeads), itoa(reqs.Lists+reqs.Lasts), per(float64(reqs.Total()), float64(cr.Before), 2))
	g.note("compact: %d segments (%d bytes) -> %d segments (%d bytes), %d merged, %d removed, %d skipped",
		cr.Before, cr.BytesBefore, cr.After, cr.BytesAfter, cr.Merged, cr.Removed, cr.Skipped)
	fmt.Fprintf(os.Stderr, "  %-40s %8.3fs\n", "compact", dur.Seconds())
	if err := restoreRow(fmt.Sprintf("restore after compact, %d segments", cr.After), cr.After); err != nil {
		return err
	}
	g.print(os.Stdout)
	return nil
}

// ifPositive returns d when floor is positive, and 0 (an empty ratio)
// otherwise.
func ifPositive(floor, d time.Duration) time.Duration {
	if floor <= 0 {
		return 0
	}
	return d
}

// defaultPrefetch is RestoreOptions.Prefetch's default, for the notes.
const defaultPrefetch = 8

// restoreRun is one timed restore and the store requests it made.
type restoreRun struct {
	dur, cpu    time.Duration
	txs, datoms int
	requests    benchwork.StoreRequests
}

// bestRestore restores store into a fresh target cfg.repeat times with
// the default options (but -prefetch) and returns the fastest run.
func bestRestore(ctx context.Context, store *benchwork.LatencyStore, cfg config) (restoreRun, error) {
	var best restoreRun
	for i := range max(cfg.repeat, 1) {
		var target datomic.Conn = benchwork.NewNopTarget()
		if cfg.target == "mem" {
			target = mem.New(mem.Options{BootstrapShift: 100, ExtraBuiltins: true})
		}
		before := store.Requests()
		cpu0 := cpuTime()
		begin := time.Now()
		res, err := dcbackup.Restore(ctx, dbName, store, target, &dcbackup.RestoreOptions{Prefetch: cfg.prefetch})
		if err != nil {
			return best, err
		}
		r := restoreRun{dur: time.Since(begin), cpu: cpuTime() - cpu0, txs: res.Transactions, datoms: res.Datoms,
			requests: store.Requests().Sub(before)}
		if i == 0 || r.dur < best.dur {
			best = r
		}
	}
	return best, nil
}
