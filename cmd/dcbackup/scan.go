package main

import (
	"context"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/internal/ordered"
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
	opts.DB = db // a segment of another database is refused as corrupt
	newWorker := func() (func(context.Context, dcbackup.SegmentInfo) (scanned[R], error), func()) {
		dec, err := dcbackup.NewSegmentDecoder(opts)
		if err != nil {
			return func(context.Context, dcbackup.SegmentInfo) (scanned[R], error) { return scanned[R]{}, err }, nil
		}
		return func(ctx context.Context, info dcbackup.SegmentInfo) (scanned[R], error) {
			return scanOne(ctx, store, db, info, dec, reduce), nil
		}, dec.Close
	}
	for r := range ordered.Map(ctx, jobs, segs, newWorker) {
		if r.Err != nil {
			return r.Err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := emit(r.Value); err != nil {
			return err
		}
	}
	return ctx.Err()
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
