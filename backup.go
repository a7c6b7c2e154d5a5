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
	// Encode sets the segment encoding (compression, encryption).
	Encode EncodeOptions
	// Decode sets the decoding limits, and the identities with which
	// Repair opens encrypted segments to check their payloads (without
	// them it checks their checksums and headers only).
	Decode DecodeOptions
	// Logger receives an Info record per segment written, a Warn record
	// per damaged segment healed, and Debug records of the checks made
	// (default: silent).
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
	// Healed counts damaged segments (unreadable, truncated, of the wrong
	// range or database, or not a file) that this call moved aside and
	// whose range it backed up again.
	Healed int
	// Excised reports that the source excised data (Datomic Pro's
	// :db/excise) that segments in the store may still hold: a segment
	// written holds an excision, or the store's last transaction differs
	// from the source's because of one. PurgeExcised removes it.
	Excised bool
	// EndT is the exclusive end of the source t range covered without a
	// gap from t 0, as far as this call checked: all of the store for
	// Backup and Repair; for BackupNext and BackupSegment, which read only
	// the newest segment, the end of the segment written (or found).
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

func (r *BackupResult) add(o BackupResult) {
	r.Segments += o.Segments
	r.Transactions += o.Transactions
	r.Datoms += o.Datoms
	r.Bytes += o.Bytes
	r.Existing += o.Existing
	r.Healed += o.Healed
	r.Excised = r.Excised || o.Excised
}

// backupRun holds what one backup call shares between its workers.
type backupRun struct {
	db      string
	conn    datomic.Conn
	store   BackupStore
	opts    *BackupOptions
	schema  *sourceSchema
	lineage Lineage
	fp      LineageFingerprint
	basis   int64
	links   *sourceLinks
	log     *slog.Logger
	prog    *progressReporter

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

// checkCallArgs refuses what no backup or restore call can work with,
// before anything is read.
func checkCallArgs(db string, store BackupStore, conn datomic.Conn, connRole string) error {
	if err := ValidateDBName(db); err != nil {
		return err
	}
	if store == nil {
		return errors.New("nil store")
	}
	if conn == nil {
		return fmt.Errorf("nil %s connection", connRole)
	}
	return nil
}

// newBackupRun reads what a backup needs of the source: its basis, schema
// and lineage.
func newBackupRun(ctx context.Context, db string, conn datomic.Conn, store BackupStore, opts *BackupOptions) (*backupRun, error) {
	if opts == nil {
		opts = &BackupOptions{}
	}
	src, err := conn.DB(ctx)
	if err != nil {
		return nil, fmt.Errorf("read source database: %w", err)
	}
	schema, err := loadSourceSchema(ctx, conn, src)
	if err != nil {
		return nil, err
	}
	lineage, err := sourceLineage(ctx, conn, schema)
	if err != nil {
		return nil, err
	}
	return &backupRun{
		db: db, conn: conn, store: store, opts: opts, schema: schema,
		lineage: lineage, fp: lineage.Fingerprint(), basis: src.BasisT(),
		links: newSourceLinks(conn, schema, src.BasisT(), lineage),
		log:   loggerOrDiscard(opts.Logger).With("db", db),
		prog:  newProgressReporter("backup", opts.Progress),
	}, nil
}

// backupCall runs fn as the backup call op of db: it checks the arguments,
// reads the source, and prefixes fn's error with the call's name.
func backupCall(ctx context.Context, op, db string, conn datomic.Conn, store BackupStore, opts *BackupOptions,
	fn func(*backupRun) (BackupResult, error)) (BackupResult, error) {
	begin := time.Now()
	if err := checkCallArgs(db, store, conn, "source"); err != nil {
		return BackupResult{}, fmt.Errorf("dcbackup: %s %q: %w", op, db, err)
	}
	run, err := newBackupRun(ctx, db, conn, store, opts)
	if err != nil {
		return BackupResult{}, fmt.Errorf("dcbackup: %s %q: %w", op, db, err)
	}
	defer run.close()
	res, err := fn(run)
	res.Elapsed = time.Since(begin)
	if err != nil {
		return res, newCallError(op, db, err)
	}
	return res, nil
}

// BackupSegment writes the source transactions whose t lies in [start, end)
// as one segment, whatever its size. A range without transactions is
// written as an empty segment: it records that nothing happened there, so
// the store has no gap. The range is cut at the source's basis: a segment
// never claims t values the source has not reached (EndT says where it
// ended), and a range that starts beyond the basis is refused. An existing
// segment with the same range is left as it is (Existing is 1).
func BackupSegment(ctx context.Context, db string, conn datomic.Conn, store BackupStore, start, end int64, opts *BackupOptions) (BackupResult, error) {
	return backupCall(ctx, "backup", db, conn, store, opts, func(r *backupRun) (BackupResult, error) {
		if start < 0 || end <= start {
			return BackupResult{}, fmt.Errorf("invalid range [%d, %d)", start, end)
		}
		if start > r.basis {
			return BackupResult{}, fmt.Errorf("range [%d, %d) starts after the source's basis t %d: there is nothing to back up there yet", start, end, r.basis)
		}
		end = min(end, r.basis+1)
		// Wherever the range lies, the store must be the source's: its
		// newest segment tells.
		var res BackupResult
		last, ok, err := r.lastSound(ctx, &res)
		if err != nil {
			return res, err
		}
		if ok && last.Header.Version >= 2 && last.Header.Lineage != r.fp {
			return res, &SourceMismatchError{DB: r.db, Segment: last.Info, What: fmt.Sprintf(
				"the store holds another database (lineage %s; the source, %s, is lineage %s)", last.Header.Lineage, r.lineage, r.fp)}
		}
		prev, err := r.linkBefore(ctx, start)
		if err != nil {
			return res, err
		}
		written, err := r.writeOne(ctx, start, end, prev, false)
		written.Healed += res.Healed
		return written, err
	})
}

// writeOne writes the transactions of [start, end) as one segment
// continuing prev. With cut, the segment stops before the transaction that
// would take it past the size limits; that transaction's t becomes its end
// and More is set.
func (r *backupRun) writeOne(ctx context.Context, start, end int64, prev TxLink, cut bool) (BackupResult, error) {
	res := BackupResult{EndT: start}
	b := r.newBuilder(start, prev)
	for tx, err := range r.schema.userTxs(ctx, r.conn, start, end) {
		if err != nil {
			return res, fmt.Errorf("read log [%d, %d): %w", start, end, err)
		}
		if cut && b.full(r.opts) {
			end = tx.T
			res.More = true
			break
		}
		if err := b.add(ctx, tx); err != nil {
			return res, err
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
	if _, err := r.save(ctx, b.seg, &res); err != nil {
		return res, err
	}
	res.EndT = end
	return res, nil
}

// newBuilder starts a segment at startT continuing prev.
func (r *backupRun) newBuilder(startT int64, prev TxLink) *segmentBuilder {
	b := newSegmentBuilder(r.schema, r.db, startT)
	b.seg.Lineage, b.seg.Prev, b.seg.Renames = r.lineage, prev, r.schema.renames
	return b
}

// BackupNext continues the backup of db from the end of the store's last
// segment: it writes one segment of at most MaxTxPerSegment transactions
// (and about MaxDatomsPerSegment datoms) that are in the source now, or
// nothing when the store is up to date. This is the call a scheduler makes
// every minute; when More is true there is more to back up right away.
//
// Before it writes, it checks that the source continues the store: the
// same database (lineage), a basis not below the store's end, and the
// store's last transaction present in the source with the same datoms;
// otherwise it returns an error matching ErrSourceMismatch and writes
// nothing. A newest segment that cannot be read is moved aside and its
// range backed up again (Healed). BackupNext reads only the newest segment:
// gaps further back are found and filled by Backup, Repair and
// ContinuousBackup's periodic check.
func BackupNext(ctx context.Context, db string, conn datomic.Conn, store BackupStore, opts *BackupOptions) (BackupResult, error) {
	return backupCall(ctx, "backup", db, conn, store, opts, func(r *backupRun) (BackupResult, error) {
		var res BackupResult
		last, ok, err := r.lastSound(ctx, &res)
		if err != nil {
			return res, err
		}
		start, prev := int64(0), NoTx
		if ok {
			if prev, err = r.continues(ctx, last, &res); err != nil {
				return res, err
			}
			start = last.Info.EndT
		}
		if start > r.basis {
			res.EndT = start
			return res, nil
		}
		next, err := r.writeOne(ctx, start, r.basis+1, prev, true)
		res.add(next)
		res.EndT, res.More = next.EndT, next.More
		return res, err
	})
}

// startTaken reports whether a segment starting at start exists already:
// another writer continued from the same segment while this one read the
// log. Writing ours too would leave two overlapping segments.
func (r *backupRun) startTaken(ctx context.Context, start int64) (SegmentInfo, bool, error) {
	segs, err := r.store.List(ctx, r.db, start)
	if err != nil {
		return SegmentInfo{}, false, fmt.Errorf("list segments from t %d: %w", start, err)
	}
	for _, s := range segs {
		if s.StartT == start {
			return s, true, nil
		}
	}
	return SegmentInfo{}, false, nil
}

// save encodes and stores seg and returns its last link. A segment another
// writer already stored with the same range counts as Existing, not as an
// error.
func (r *backupRun) save(ctx context.Context, seg *Segment, res *BackupResult) (TxLink, error) {
	if err := ctx.Err(); err != nil {
		return TxLink{}, err
	}
	enc, err := r.encoder()
	if err != nil {
		return TxLink{}, fmt.Errorf("encode segment %s: %w", seg.Info(), err)
	}
	data, err := enc.Encode(seg)
	head := enc.LastHeader()
	last := head.Last
	r.release(enc)
	if err != nil {
		return TxLink{}, err
	}
	info := SegmentInfo{StartT: seg.StartT, EndT: seg.EndT, Size: int64(len(data))}
	err = r.store.Save(ctx, r.db, info, data)
	existed := errors.Is(err, ErrSegmentExists)
	if err != nil && !existed {
		return TxLink{}, fmt.Errorf("save segment %s: %w", info, err)
	}
	res.addSegment(seg, len(data), existed)
	if head.Features&FeatureExcision != 0 {
		res.Excised = true
		r.log.Warn("the source excised data: segments written before the excision may hold it; PurgeExcised removes it from the store",
			"start_t", info.StartT, "end_t", info.EndT)
	}
	if existed {
		r.log.Debug("segment already stored by another writer", "start_t", info.StartT, "end_t", info.EndT)
		return last, nil
	}
	r.log.Info("segment written", "start_t", info.StartT, "end_t", info.EndT,
		"txs", len(seg.Txs), "datoms", seg.DatomCount(), "bytes", len(data))
	r.prog.add(1, len(seg.Txs), seg.DatomCount(), int64(len(data)), seg.EndT)
	return last, nil
}

// LastSegmentInfo returns the newest segment of db in store: where the next
// BackupNext continues (at its EndT). ok is false when db has no segment.
func LastSegmentInfo(ctx context.Context, db string, store BackupStore) (SegmentInfo, bool, error) {
	if err := ValidateDBName(db); err != nil {
		return SegmentInfo{}, false, fmt.Errorf("dcbackup: last segment of %q: %w", db, err)
	}
	if store == nil {
		return SegmentInfo{}, false, fmt.Errorf("dcbackup: last segment of %q: nil store", db)
	}
	seg, ok, err := store.Last(ctx, db)
	if err != nil {
		return seg, false, fmt.Errorf("dcbackup: last segment of %q: %w", db, err)
	}
	return seg, ok, nil
}
