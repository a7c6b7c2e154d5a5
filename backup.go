package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
	"golang.org/x/sync/errgroup"
)

// BackupOptions configures BackupSegment, BackupNext, Backup and Repair.
// The zero value is ready to use.
type BackupOptions struct {
	// MaxTxPerSegment caps the transactions in one segment (default 10000).
	MaxTxPerSegment int
	// MaxDatomsPerSegment closes a segment once it holds this many datoms
	// (default 100000). A transaction is never split, so one large
	// transaction may exceed it.
	MaxDatomsPerSegment int
	// Concurrency is the number of ranges Backup and Repair work on at once
	// (default GOMAXPROCS).
	Concurrency int
	// Encode sets the segment encoding (compression).
	Encode EncodeOptions
	// Logger receives one record per segment written (default: silent).
	Logger *slog.Logger
	// Progress, if set, is called after every segment written. Calls may
	// come from several goroutines, but never at the same time.
	Progress func(Progress)
}

func (o *BackupOptions) maxTx() int {
	if o == nil || o.MaxTxPerSegment <= 0 {
		return 10000
	}
	return o.MaxTxPerSegment
}

func (o *BackupOptions) maxDatoms() int {
	if o == nil || o.MaxDatomsPerSegment <= 0 {
		return 100000
	}
	return o.MaxDatomsPerSegment
}

func (o *BackupOptions) concurrency() int {
	if o == nil || o.Concurrency <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return o.Concurrency
}

// BackupResult says what a backup call did.
type BackupResult struct {
	// Segments, Transactions, Datoms and Bytes count what this call wrote.
	Segments     int
	Transactions int
	Datoms       int
	Bytes        int64
	// Existing counts segments that another writer had already stored with
	// the same range; their content is the same source log, so nothing is
	// lost.
	Existing int
	// EndT is the exclusive end of the source t range that the store now
	// covers without a gap from 0 (as far as this call knows).
	EndT int64
	// More reports, for BackupNext, that the source has transactions beyond
	// EndT: call again.
	More bool
	// Elapsed is the wall time of the call.
	Elapsed time.Duration
}

func (r *BackupResult) addSegment(seg *Segment, size int, existed bool) {
	if existed {
		r.Existing++
		return
	}
	r.Segments++
	r.Transactions += len(seg.Txs)
	r.Datoms += seg.DatomCount()
	r.Bytes += int64(size)
}

// backupRun holds what one backup call shares between its workers.
type backupRun struct {
	db     string
	conn   datomic.Conn
	store  BackupStore
	opts   *BackupOptions
	schema *sourceSchema
	log    *slog.Logger
	prog   *progressReporter

	// encs are idle segment encoders: creating one (its zstd state) costs
	// more than encoding a small segment, so workers reuse them.
	encMu sync.Mutex
	encs  []*SegmentEncoder
}

// encoder returns an idle encoder or a new one; give it back with release.
func (r *backupRun) encoder() (*SegmentEncoder, error) {
	r.encMu.Lock()
	if n := len(r.encs); n > 0 {
		e := r.encs[n-1]
		r.encs = r.encs[:n-1]
		r.encMu.Unlock()
		return e, nil
	}
	r.encMu.Unlock()
	return NewSegmentEncoder(r.opts.Encode)
}

func (r *backupRun) release(e *SegmentEncoder) {
	r.encMu.Lock()
	r.encs = append(r.encs, e)
	r.encMu.Unlock()
}

// close releases the idle encoders.
func (r *backupRun) close() {
	r.encMu.Lock()
	defer r.encMu.Unlock()
	for _, e := range r.encs {
		e.Close()
	}
	r.encs = nil
}

func newBackupRun(ctx context.Context, db string, conn datomic.Conn, store BackupStore, opts *BackupOptions) (*backupRun, datomic.DB, error) {
	if opts == nil {
		opts = &BackupOptions{}
	}
	src, err := conn.DB(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("dcbackup: backup %q: read source database: %w", db, err)
	}
	schema, err := loadSourceSchema(ctx, conn, src)
	if err != nil {
		return nil, nil, fmt.Errorf("dcbackup: backup %q: %w", db, err)
	}
	return &backupRun{
		db: db, conn: conn, store: store, opts: opts, schema: schema,
		log:  loggerOrDiscard(opts.Logger).With("db", db),
		prog: newProgressReporter("backup", opts.Progress),
	}, src, nil
}

// BackupSegment writes the source transactions whose t lies in [start, end)
// as one segment, whatever its size. A range without transactions is
// written as an empty segment: it records that nothing happened there, so
// the store has no gap. An existing segment with the same range is left as
// it is (Existing is 1).
func BackupSegment(ctx context.Context, db string, conn datomic.Conn, store BackupStore, start, end int64, opts *BackupOptions) (BackupResult, error) {
	begin := time.Now()
	if start < 0 || end <= start {
		return BackupResult{}, fmt.Errorf("dcbackup: backup %q: invalid range [%d, %d)", db, start, end)
	}
	run, _, err := newBackupRun(ctx, db, conn, store, opts)
	if err != nil {
		return BackupResult{}, err
	}
	defer run.close()
	res, err := run.writeOne(ctx, start, end, false)
	res.Elapsed = time.Since(begin)
	return res, err
}

// writeOne writes the transactions of [start, end) as one segment. With
// cut, the segment stops before the transaction that would take it past
// the size limits; that transaction's t becomes its end and More is set.
func (r *backupRun) writeOne(ctx context.Context, start, end int64, cut bool) (BackupResult, error) {
	res := BackupResult{EndT: start}
	b := newSegmentBuilder(r.schema, r.db, start)
	for tx, err := range r.conn.TxRange(ctx, start, end) {
		if err != nil {
			return res, fmt.Errorf("dcbackup: backup %q: read log [%d, %d): %w", r.db, start, end, err)
		}
		if cut && b.full(r.opts) {
			end = tx.T
			res.More = true
			break
		}
		if err := b.add(ctx, tx); err != nil {
			return res, fmt.Errorf("dcbackup: backup %q: %w", r.db, err)
		}
	}
	b.seg.EndT = end
	if cut {
		// BackupNext: if another writer got here first, leave its segment
		// be and continue after it next time (a narrow window remains
		// between this check and the save; readers cope with overlaps).
		other, taken, err := r.startTaken(ctx, start)
		if err != nil {
			return res, err
		}
		if taken {
			res.Existing, res.More, res.EndT = 1, true, other.EndT
			return res, nil
		}
	}
	if err := r.save(ctx, b.seg, &res); err != nil {
		return res, err
	}
	res.EndT = end
	return res, nil
}

// BackupNext continues the backup of db from the end of the store's last
// segment: it writes one segment of at most MaxTxPerSegment transactions
// (and about MaxDatomsPerSegment datoms) that are in the source now, or
// nothing when the store is up to date. This is the call a scheduler makes
// every minute; when More is true there is more to back up right away.
func BackupNext(ctx context.Context, db string, conn datomic.Conn, store BackupStore, opts *BackupOptions) (BackupResult, error) {
	begin := time.Now()
	last, ok, err := LastSegmentInfo(ctx, db, store)
	if err != nil {
		return BackupResult{}, err
	}
	start := int64(0)
	if ok {
		start = last.EndT
	}
	run, src, err := newBackupRun(ctx, db, conn, store, opts)
	if err != nil {
		return BackupResult{}, err
	}
	defer run.close()
	if start > src.BasisT() {
		return BackupResult{EndT: start, Elapsed: time.Since(begin)}, nil
	}
	res, err := run.writeOne(ctx, start, src.BasisT()+1, true)
	res.Elapsed = time.Since(begin)
	return res, err
}

// startTaken reports whether a segment starting at start exists already:
// another writer continued from the same segment while this one read the
// log. Writing ours too would leave two overlapping segments.
func (r *backupRun) startTaken(ctx context.Context, start int64) (SegmentInfo, bool, error) {
	segs, err := r.store.List(ctx, r.db, start)
	if err != nil {
		return SegmentInfo{}, false, fmt.Errorf("dcbackup: backup %q: list segments from t %d: %w", r.db, start, err)
	}
	for _, s := range segs {
		if s.StartT == start {
			return s, true, nil
		}
	}
	return SegmentInfo{}, false, nil
}

// Backup brings the store up to date with the source as it is now: it
// finds every range of [0, basis] that no segment covers (all of it on a
// first run) and backs those ranges up in parallel, with at most
// Concurrency ranges at a time. It is resumable: a run that failed or was
// cancelled leaves only whole segments, and the next run does only what is
// missing. The first error cancels the rest and is returned.
func Backup(ctx context.Context, db string, conn datomic.Conn, store BackupStore, opts *BackupOptions) (BackupResult, error) {
	begin := time.Now()
	run, src, err := newBackupRun(ctx, db, conn, store, opts)
	if err != nil {
		return BackupResult{}, err
	}
	defer run.close()
	segs, err := store.List(ctx, db, 0)
	if err != nil {
		return BackupResult{}, fmt.Errorf("dcbackup: backup %q: list segments: %w", db, err)
	}
	end := src.BasisT() + 1
	for _, s := range segs {
		end = max(end, s.EndT)
	}
	res, err := run.fill(ctx, findGaps(segs, end))
	if err == nil {
		res.EndT = end
	}
	res.Elapsed = time.Since(begin)
	return res, err
}

// fill backs up the given ranges in parallel pieces.
func (r *backupRun) fill(ctx context.Context, gaps []Gap) (BackupResult, error) {
	pieces, err := r.pieces(ctx, gaps)
	if err != nil {
		return BackupResult{}, err
	}
	results := make([]BackupResult, len(pieces))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.concurrency())
	for i, p := range pieces {
		g.Go(func() error { return r.backupRange(gctx, p.StartT, p.EndT, &results[i]) })
	}
	err = g.Wait()
	var total BackupResult
	for _, res := range results {
		total.Segments += res.Segments
		total.Transactions += res.Transactions
		total.Datoms += res.Datoms
		total.Bytes += res.Bytes
		total.Existing += res.Existing
	}
	return total, err
}

// pieces cuts the ranges to back up into pieces for the workers. Each
// range is cut from its first transaction on (t starts far above 0 on
// Datomic Pro, and the t values before it would only make empty pieces);
// its first piece still starts at the range's start, so no t is left out.
// A range without transactions stays one piece.
func (r *backupRun) pieces(ctx context.Context, ranges []Gap) ([]Gap, error) {
	var out []Gap
	for _, g := range ranges {
		first := int64(-1)
		for tx, err := range r.conn.TxRange(ctx, g.StartT, g.EndT) {
			if err != nil {
				return nil, fmt.Errorf("dcbackup: backup %q: read log at t %d: %w", r.db, g.StartT, err)
			}
			first = tx.T
			break
		}
		if first < 0 {
			out = append(out, g)
			continue
		}
		// A piece spans at least MaxTxPerSegment t values (a narrower one
		// could not fill a segment), except when several workers share
		// the range: then it is cut into four pieces per worker, so that
		// they stay busy until the end, but none narrower than a
		// sixteenth of a segment's transactions.
		conc := r.opts.concurrency()
		minSpan := int64(r.opts.maxTx())
		if conc > 1 {
			n := int64(conc * 4)
			even := (g.EndT - first + n - 1) / n
			minSpan = max(min(minSpan, even), minSpan/16, 1)
		}
		ps := splitRanges([]Gap{{StartT: first, EndT: g.EndT}}, conc*4, minSpan)
		ps[0].StartT = g.StartT
		out = append(out, ps...)
	}
	return out, nil
}

// backupRange writes [start, end) as one or more segments cut at the size
// limits; the last one ends exactly at end.
func (r *backupRun) backupRange(ctx context.Context, start, end int64, res *BackupResult) error {
	b := newSegmentBuilder(r.schema, r.db, start)
	for tx, err := range r.conn.TxRange(ctx, start, end) {
		if err != nil {
			return fmt.Errorf("dcbackup: backup %q: read log [%d, %d): %w", r.db, start, end, err)
		}
		if b.full(r.opts) {
			b.seg.EndT = tx.T
			if err := r.save(ctx, b.seg, res); err != nil {
				return err
			}
			b.reset(r.db, tx.T)
		}
		if err := b.add(ctx, tx); err != nil {
			return fmt.Errorf("dcbackup: backup %q: %w", r.db, err)
		}
	}
	b.seg.EndT = end
	return r.save(ctx, b.seg, res)
}

// save encodes and stores seg. A segment another writer already stored with
// the same range counts as Existing, not as an error.
func (r *backupRun) save(ctx context.Context, seg *Segment, res *BackupResult) error {
	if err := ctxErr(ctx, "dcbackup: backup "+r.db); err != nil {
		return err
	}
	enc, err := r.encoder()
	if err != nil {
		return fmt.Errorf("dcbackup: backup %q: encode segment %s: %w", r.db, seg.Info(), err)
	}
	data, err := enc.Encode(seg)
	r.release(enc)
	if err != nil {
		return fmt.Errorf("dcbackup: backup %q: encode segment %s: %w", r.db, seg.Info(), err)
	}
	info := SegmentInfo{StartT: seg.StartT, EndT: seg.EndT, Size: int64(len(data))}
	err = r.store.Save(ctx, r.db, info, data)
	existed := errors.Is(err, ErrSegmentExists)
	if err != nil && !existed {
		return fmt.Errorf("dcbackup: backup %q: save segment %s: %w", r.db, info, err)
	}
	res.addSegment(seg, len(data), existed)
	r.log.Debug("segment written", "start_t", info.StartT, "end_t", info.EndT,
		"txs", len(seg.Txs), "datoms", seg.DatomCount(), "bytes", len(data), "existed", existed)
	if !existed {
		r.prog.add(1, len(seg.Txs), seg.DatomCount(), int64(len(data)), seg.EndT)
	}
	return nil
}

// splitRanges cuts ranges into about n pieces of similar t span, but no
// piece spans fewer than minSpan t values: each transaction takes at least
// one t, so a narrower piece could not fill a segment anyway.
func splitRanges(ranges []Gap, n int, minSpan int64) []Gap {
	var total int64
	for _, g := range ranges {
		total += g.EndT - g.StartT
	}
	span := max(total/int64(max(n, 1)), minSpan, 1)
	var out []Gap
	for _, g := range ranges {
		for s := g.StartT; s < g.EndT; s += span {
			out = append(out, Gap{StartT: s, EndT: min(s+span, g.EndT)})
		}
	}
	return out
}

// Gaps returns the ranges of source t in [0, end of the last segment) that
// no segment of db covers. A healthy store has none.
func Gaps(ctx context.Context, db string, store BackupStore) ([]Gap, error) {
	segs, err := store.List(ctx, db, 0)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: gaps %q: list segments: %w", db, err)
	}
	return findGaps(segs, 0), nil
}

// Repair backs up every gap of db's store from the source, in parallel.
// It only fills holes; it does not extend the backup past its last segment
// (BackupNext or Backup do that).
func Repair(ctx context.Context, db string, conn datomic.Conn, store BackupStore, opts *BackupOptions) (BackupResult, error) {
	begin := time.Now()
	gaps, err := Gaps(ctx, db, store)
	if err != nil {
		return BackupResult{}, err
	}
	if len(gaps) == 0 {
		return BackupResult{}, nil
	}
	run, _, err := newBackupRun(ctx, db, conn, store, opts)
	if err != nil {
		return BackupResult{}, err
	}
	defer run.close()
	res, err := run.fill(ctx, gaps)
	res.Elapsed = time.Since(begin)
	return res, err
}

// LastSegmentInfo returns the newest segment of db in store: where the next
// BackupNext continues (at its EndT). ok is false when db has no segment.
func LastSegmentInfo(ctx context.Context, db string, store BackupStore) (SegmentInfo, bool, error) {
	seg, ok, err := store.Last(ctx, db)
	if err != nil {
		return seg, false, fmt.Errorf("dcbackup: last segment of %q: %w", db, err)
	}
	return seg, ok, nil
}
