package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// RestoreOptions configures RestoreSegment and Restore. The zero value
// restores everything.
type RestoreOptions struct {
	// UntilT stops the restore after the last source transaction with
	// t <= UntilT (0: no limit). A point-in-time restore.
	UntilT int64
	// UntilInstant stops the restore after the last source transaction
	// whose :db/txInstant is not after it (zero: no limit).
	UntilInstant time.Time
	// Filter, if set, is asked about every source datom except the
	// transaction's :db/txInstant; returning false leaves the datom out of
	// the target (elision). Ids in d are source ids; attr is the source
	// attribute. A transaction emptied by the filter is still restored, so
	// the marker advances.
	Filter func(d datomic.Datom, attr datomic.Attribute) bool
	// Rewrite maps an attribute ident to a function that replaces the
	// values of that attribute before they reach the target. Values of ref
	// attributes are source ids. The function must return a value of the
	// attribute's type.
	Rewrite map[datomic.Keyword]func(v any) (any, error)
	// IgnorePartitions restores every new entity into the target's default
	// partition (:db.part/user; attributes :db.part/db) instead of the
	// partition it has in the source. Keeping partitions sends Datomic's
	// :db/force-partition directive, which Datomic Pro releases before 2023
	// do not know; it is only sent for entities outside those defaults.
	IgnorePartitions bool
	// Prefetch is the number of segments loaded and decoded ahead of the
	// one being applied (default 2).
	Prefetch int
	// CacheSize bounds the source-to-target id cache, in entries
	// (default 1<<20).
	CacheSize int
	// Decode sets decoding limits for segments.
	Decode DecodeOptions
	// Logger receives one record per segment restored (default: silent).
	Logger *slog.Logger
	// Progress, if set, is called after every segment restored.
	Progress func(Progress)
}

func (o *RestoreOptions) prefetch() int {
	if o.Prefetch <= 0 {
		return 2
	}
	return o.Prefetch
}

// RestoreResult says what a restore call did.
type RestoreResult struct {
	// Restored reports that at least one transaction or segment was applied.
	Restored bool
	// Segments, Transactions and Datoms count what was applied; Datoms
	// counts source datoms.
	Segments     int
	Transactions int
	Datoms       int
	// LastT is the last source t restored into the target (-1: none).
	LastT int64
	// Stopped reports that UntilT or UntilInstant was reached.
	Stopped bool
	// Remap counts how ids were resolved.
	Remap RemapStats
	// Elapsed is the wall time of the call.
	Elapsed time.Duration
}

// errStop ends a restore at its stop point.
var errStop = errors.New("stop point reached")

// restorer applies segments of one database to one target, in order.
type restorer struct {
	db     string
	store  BackupStore
	target datomic.Conn
	opts   *RestoreOptions
	log    *slog.Logger
	prog   *progressReporter
	st     targetState
	remap  *remapper
	res    RestoreResult
	// pos is the next source t to restore: segments are chosen by it.
	pos int64
	// listHint, when positive, lists only segments starting at or after it
	// (Replicate passes the start of the last segment it applied, so that
	// polling a large store does not list all of it).
	listHint int64
	// lastSegStart is the StartT of the last segment applied.
	lastSegStart int64
	// dec decodes the segments loaded by the restoring goroutine itself.
	dec *SegmentDecoder
	// ops is buildOps' attribute table of the segment being applied.
	ops *segOps
}

func newRestorer(ctx context.Context, db string, store BackupStore, target datomic.Conn, opts *RestoreOptions) (*restorer, error) {
	if opts == nil {
		opts = &RestoreOptions{}
	}
	st, err := readTargetState(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: restore %q: %w", db, err)
	}
	r := &restorer{
		db: db, store: store, target: target, opts: opts, st: st,
		log:  loggerOrDiscard(opts.Logger).With("db", db),
		prog: newProgressReporter("restore", opts.Progress),
		pos:  st.lastT + 1,
	}
	r.res.LastT = st.lastT
	if st.setUp {
		r.remap = newRemapper(target, st.origAttr, opts.CacheSize, st.lastT < 0)
	}
	return r, nil
}

// RestoreSegment restores the next segment of db from store into target:
// the transactions after the last one restored, up to the end of the
// segment that holds them. Restored is false when the store has nothing
// new. It refuses a target holding data that no restore wrote
// (ErrTargetNotEmpty), a target written to since (ErrTargetModified), a gap
// in the store (ErrGap), and a corrupt segment (ErrCorruptSegment), applying
// nothing from it.
func RestoreSegment(ctx context.Context, db string, store BackupStore, target datomic.Conn, opts *RestoreOptions) (RestoreResult, error) {
	begin := time.Now()
	r, err := newRestorer(ctx, db, store, target, opts)
	if err != nil {
		return RestoreResult{LastT: -1}, err
	}
	defer r.close()
	segs, err := r.listFrom(ctx)
	if err != nil {
		return r.result(begin), err
	}
	// The next segment with something to apply: empty segments (ranges
	// without transactions) are passed over.
	for first := true; ; first = false {
		info, ok, err := nextInChain(r.db, segs, r.pos)
		if err != nil || !ok {
			return r.result(begin), err
		}
		seg, err := r.load(ctx, info)
		if err == nil && first {
			err = r.checkMarker(ctx, seg, segs)
		}
		if err == nil {
			err = r.apply(ctx, seg)
		}
		if errors.Is(err, errStop) {
			r.res.Stopped = true
			return r.result(begin), nil
		}
		if err != nil || r.res.Restored {
			return r.result(begin), err
		}
	}
}

// Restore restores every segment of db that the store holds beyond what the
// target already has, in order, loading and decoding the next segments
// while the current one is applied. It stops when the store has nothing
// more, at UntilT or UntilInstant, or at the first error; it can be called
// again to continue (a crash at any point resumes exactly once).
func Restore(ctx context.Context, db string, store BackupStore, target datomic.Conn, opts *RestoreOptions) (RestoreResult, error) {
	begin := time.Now()
	r, err := newRestorer(ctx, db, store, target, opts)
	if err != nil {
		return RestoreResult{LastT: -1}, err
	}
	defer r.close()
	return r.run(ctx, begin)
}

// run restores every segment available from r.pos on.
func (r *restorer) run(ctx context.Context, begin time.Time) (RestoreResult, error) {
	db := r.db
	segs, err := r.listFrom(ctx)
	if err != nil {
		return r.result(begin), err
	}
	// Plan the chain of segments first, so that they can be fetched ahead.
	var chain []SegmentInfo
	var gapErr error
	for pos := r.pos; ; {
		info, ok, err := nextInChain(db, segs, pos)
		if err != nil {
			gapErr = err
			break
		}
		if !ok {
			break
		}
		chain = append(chain, info)
		pos = info.EndT
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loaded := r.prefetch(ctx, chain)
	first := true
	for l := range loaded {
		if l.err != nil {
			return r.result(begin), l.err
		}
		if first {
			if err := r.checkMarker(ctx, l.seg, segs); err != nil {
				return r.result(begin), err
			}
			first = false
		}
		if err := r.apply(ctx, l.seg); err != nil {
			if errors.Is(err, errStop) {
				r.res.Stopped = true
				return r.result(begin), nil
			}
			return r.result(begin), err
		}
	}
	if err := ctxErr(ctx, "dcbackup: restore "+db); err != nil {
		return r.result(begin), err
	}
	return r.result(begin), gapErr
}

func (r *restorer) result(begin time.Time) RestoreResult {
	res := r.res
	if r.remap != nil {
		res.Remap = r.remap.snapshot()
	}
	res.Elapsed = time.Since(begin)
	return res
}

// listFrom lists the segments that may hold transactions from r.pos on.
func (r *restorer) listFrom(ctx context.Context) ([]SegmentInfo, error) {
	from := max(min(r.listHint, r.pos), 0)
	segs, err := r.store.List(ctx, r.db, from)
	if err == nil && from > 0 {
		if _, ok, gapEnd := nextSegment(segs, r.pos); !ok && gapEnd > 0 {
			// Looks like a gap: make sure with a full listing.
			segs, err = r.store.List(ctx, r.db, 0)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dcbackup: restore %q: list segments: %w", r.db, err)
	}
	return segs, nil
}

// nextInChain picks the segment holding pos; ok is false when there is none
// yet, and an error names the gap when later segments exist.
func nextInChain(db string, segs []SegmentInfo, pos int64) (SegmentInfo, bool, error) {
	info, ok, gapEnd := nextSegment(segs, pos)
	if !ok && gapEnd > 0 {
		return info, false, fmt.Errorf("dcbackup: restore %q: %w", db, &GapError{DB: db, StartT: pos, EndT: gapEnd})
	}
	return info, ok, nil
}

type loadedSegment struct {
	seg *Segment
	err error
}

// prefetch loads and decodes the chain's segments in a goroutine, at most
// Prefetch ahead of the consumer.
func (r *restorer) prefetch(ctx context.Context, chain []SegmentInfo) <-chan loadedSegment {
	out := make(chan loadedSegment, r.opts.prefetch())
	go func() {
		defer close(out)
		dec, err := NewSegmentDecoder(r.opts.Decode)
		if err != nil {
			select {
			case out <- loadedSegment{nil, fmt.Errorf("dcbackup: restore %q: %w", r.db, err)}:
			case <-ctx.Done():
			}
			return
		}
		defer dec.Close()
		for _, info := range chain {
			seg, err := r.loadWith(ctx, dec, info)
			select {
			case out <- loadedSegment{seg, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// load reads and decodes one segment, checking it belongs to r.db. Only
// the goroutine that runs the restore calls it (the prefetcher has its own
// decoder).
func (r *restorer) load(ctx context.Context, info SegmentInfo) (*Segment, error) {
	if r.dec == nil {
		dec, err := NewSegmentDecoder(r.opts.Decode)
		if err != nil {
			return nil, fmt.Errorf("dcbackup: restore %q: %w", r.db, err)
		}
		r.dec = dec
	}
	return r.loadWith(ctx, r.dec, info)
}

// close releases the restorer's decoder.
func (r *restorer) close() {
	if r.dec != nil {
		r.dec.Close()
		r.dec = nil
	}
}

// loadWith reads and decodes one segment with dec, checking it belongs to
// r.db.
func (r *restorer) loadWith(ctx context.Context, dec *SegmentDecoder, info SegmentInfo) (*Segment, error) {
	data, err := r.store.Load(ctx, r.db, info)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: restore %q: load segment %s: %w", r.db, info, err)
	}
	seg, err := dec.Decode(data, info)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: restore %q: segment %s: %w", r.db, info, err)
	}
	if seg.DB != r.db {
		return nil, fmt.Errorf("dcbackup: restore %q: segment %s: %w: it was written for %q", r.db, info, ErrWrongDatabase, seg.DB)
	}
	return seg, nil
}

// checkMarker verifies, when resuming, that the target's last restored t is
// a transaction of this backup: a target restored from another backup, or
// from another database, would otherwise continue silently.
func (r *restorer) checkMarker(ctx context.Context, next *Segment, segs []SegmentInfo) error {
	last := r.st.lastT
	if last < 0 {
		return nil
	}
	seg := next
	if last < next.StartT {
		info, ok, _ := nextSegment(segs, last)
		if !ok {
			return fmt.Errorf("dcbackup: restore %q: %w: the target's last restored source t is %d, which no segment of this backup covers", r.db, ErrTargetModified, last)
		}
		var err error
		if seg, err = r.load(ctx, info); err != nil {
			return err
		}
	}
	for _, tx := range seg.Txs {
		if tx.T == last {
			return nil
		}
	}
	return fmt.Errorf("dcbackup: restore %q: %w: the target's last restored source t is %d, but this backup has no transaction at t %d; it was restored from another backup", r.db, ErrTargetModified, last, last)
}

// apply restores the transactions of seg that the target does not have yet.
func (r *restorer) apply(ctx context.Context, seg *Segment) error {
	applied := 0
	datoms := 0
	for _, tx := range seg.Txs {
		if tx.T < r.pos {
			continue
		}
		if r.opts.UntilT > 0 && tx.T > r.opts.UntilT {
			return r.finishSegment(seg, applied, datoms, errStop)
		}
		if !r.opts.UntilInstant.IsZero() {
			if inst, ok := txInstant(seg, tx); ok && inst.After(r.opts.UntilInstant) {
				return r.finishSegment(seg, applied, datoms, errStop)
			}
		}
		if err := r.applyTx(ctx, seg, tx); err != nil {
			return r.finishSegment(seg, applied, datoms, err)
		}
		applied++
		datoms += len(tx.Datoms)
		r.pos = tx.T + 1
	}
	r.pos = max(r.pos, seg.EndT)
	r.lastSegStart = seg.StartT
	return r.finishSegment(seg, applied, datoms, nil)
}

func (r *restorer) finishSegment(seg *Segment, txs, datoms int, err error) error {
	r.ops = nil // it holds seg, which may now be freed
	if txs > 0 || err == nil {
		r.res.Restored = r.res.Restored || txs > 0
		r.res.Segments++
		r.res.Transactions += txs
		r.res.Datoms += datoms
		r.log.Debug("segment restored", "start_t", seg.StartT, "end_t", seg.EndT, "txs", txs, "datoms", datoms)
		r.prog.add(1, txs, datoms, 0, r.res.LastT)
	}
	return err
}

// applyTx restores one source transaction as one target transaction.
func (r *restorer) applyTx(ctx context.Context, seg *Segment, tx datomic.Tx) error {
	if !r.st.setUp {
		inst, ok := txInstant(seg, tx)
		if !ok {
			return fmt.Errorf("dcbackup: restore %q: source t %d has no :db/txInstant", r.db, tx.T)
		}
		st, err := setUpTarget(ctx, r.target, inst)
		if err != nil {
			return fmt.Errorf("dcbackup: restore %q: %w", r.db, err)
		}
		r.st = st
		r.remap = newRemapper(r.target, st.origAttr, r.opts.CacheSize, true)
	}
	ops, err := r.buildOps(ctx, seg, tx)
	if err != nil {
		return fmt.Errorf("dcbackup: restore %q: source t %d: %w", r.db, tx.T, err)
	}
	rep, err := r.target.Transact(ctx, ops)
	if err != nil {
		return fmt.Errorf("dcbackup: restore %q: source t %d was not restored (nothing of it applied): %w", r.db, tx.T, err)
	}
	if err := r.remap.commit(rep.Tempids); err != nil {
		return fmt.Errorf("dcbackup: restore %q: source t %d: %w", r.db, tx.T, err)
	}
	r.st.lastT = tx.T
	r.res.LastT = tx.T
	return nil
}

// txInstant returns the :db/txInstant of tx.
func txInstant(seg *Segment, tx datomic.Tx) (time.Time, bool) {
	id := tx.ID()
	for _, d := range tx.Datoms {
		if d.E == id && d.Added && seg.Attrs[d.A].Ident == "db/txInstant" {
			t, ok := d.V.(time.Time)
			return t, ok
		}
	}
	return time.Time{}, false
}
