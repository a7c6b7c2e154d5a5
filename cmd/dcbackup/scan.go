package main

import (
	"context"
	"sync"

	"github.com/dcbackup/dcbackup"
)

// scanned is what a worker hands back for one segment.
type scanned[R any] struct {
	info dcbackup.SegmentInfo
	// size is the number of bytes loaded (0 when the load failed).
	size int
	// res is the reduction of the decoded segment (zero when err is set).
	res R
	// loadErr is an error of the store's Load; decodeErr one of the
	// library's decoder (a *dcbackup.SegmentError). At most one is set.
	loadErr   error
	decodeErr error
}

// scanSegments loads and decodes the segments segs of db with up to jobs
// workers, reduces each decoded segment with reduce (in the worker, so
// that only the reduction outlives the segment) and calls emit with the
// results in the order of segs, one call at a time. At most about 2×jobs
// segments are in memory at once. A segment's load or decode error is
// passed to emit, not returned; scanSegments returns emit's first error or
// the context's.
func scanSegments[R any](ctx context.Context, store dcbackup.BackupStore, db string, segs []dcbackup.SegmentInfo, jobs int,
	opts dcbackup.DecodeOptions, reduce func(*dcbackup.Segment) R, emit func(scanned[R]) error) error {
	jobs = max(jobs, 1)
	opts.DB = db // a segment of another database is refused as corrupt
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct {
		info dcbackup.SegmentInfo
		out  chan scanned[R]
	}
	work := make(chan job)
	order := make(chan chan scanned[R], jobs)
	var wg sync.WaitGroup
	var decErr error
	for range jobs {
		dec, err := dcbackup.NewSegmentDecoder(opts)
		if err != nil {
			decErr = err
			break
		}
		wg.Go(func() {
			defer dec.Close()
			for j := range work {
				j.out <- scanOne(ctx, store, db, j.info, dec, reduce)
			}
		})
	}
	// The producer hands each job to a worker before it queues the job's
	// result channel, so every queued channel is eventually written.
	go func() {
		defer close(order)
		defer close(work)
		if decErr != nil {
			return
		}
		for _, info := range segs {
			j := job{info: info, out: make(chan scanned[R], 1)}
			select {
			case work <- j:
			case <-ctx.Done():
				return
			}
			select {
			case order <- j.out:
			case <-ctx.Done():
				return
			}
		}
	}()
	var err error
	for out := range order {
		r := <-out
		if err != nil {
			continue // draining after an error
		}
		if err = ctx.Err(); err == nil {
			err = emit(r)
		}
		if err != nil {
			cancel()
		}
	}
	wg.Wait()
	if err == nil {
		err = decErr
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

func scanOne[R any](ctx context.Context, store dcbackup.BackupStore, db string, info dcbackup.SegmentInfo,
	dec *dcbackup.SegmentDecoder, reduce func(*dcbackup.Segment) R) scanned[R] {
	r := scanned[R]{info: info}
	if err := ctx.Err(); err != nil {
		r.loadErr = err
		return r
	}
	data, err := store.Load(ctx, db, info)
	if err != nil {
		r.loadErr = err
		return r
	}
	r.size = len(data)
	seg, err := dec.Decode(data, info)
	if err != nil {
		r.decodeErr = err
		return r
	}
	r.res = reduce(seg)
	return r
}
