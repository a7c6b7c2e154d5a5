package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/internal/ordered"
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
	// ElideAttributes leaves attributes out of the target entirely: their
	// installation, alterations and values, and refs to them. Use it for
	// an attribute the target cannot have (a :db.type/bytes attribute on
	// Datomic Cloud) or should not.
	ElideAttributes []datomic.Keyword
	// Rewrite maps an attribute ident to a function that replaces the
	// values of that attribute before they reach the target. Values of ref
	// attributes are source ids. The function must return a value of the
	// attribute's type. A function that fails, or a value the target
	// refuses (another type, a unique conflict), stops the restore at that
	// transaction, with the transactions before it applied and nothing of
	// it: the error says which; fix the function and call again.
	Rewrite map[datomic.Keyword]func(v any) (any, error)
	// IgnorePartitions restores every new entity into the target's default
	// partition (:db.part/user; attributes :db.part/db) instead of the
	// partition it has in the source. Keeping partitions sends Datomic's
	// :db/force-partition directive, which Datomic Pro releases before 2023
	// do not know; it is only sent for entities outside those defaults. A
	// target without partitions (Datomic Cloud) places entities itself,
	// whatever this says, and so does every target for an entity whose
	// source partition is not one the source installed (a Datomic Cloud
	// source's partitions are numbers its database chose).
	IgnorePartitions bool
	// Functions says what to do with stored functions, attribute
	// predicates and entity specs, which the target's transactor would run
	// (default FunctionsRefuse).
	Functions FunctionPolicy
	// Prefetch is the number of segments loaded and decoded at once, ahead
	// of the one being applied (default 8): enough to hide an object
	// store's latency. Memory is bounded by about twice as many decoded
	// segments. When the segments to restore are small, such as the
	// one-transaction segments of a BackupNext called every minute, more
	// are fetched at once: as many as the stored bytes of Prefetch full
	// segments hold (512 KiB each, about a segment of the default 100,000
	// datoms), at most four times Prefetch.
	Prefetch int
	// CacheSize bounds the source-to-target id cache, in entries
	// (default 1<<20).
	CacheSize int
	// Decode sets decoding limits, and the identities that open encrypted
	// segments.
	Decode DecodeOptions
	// Logger receives an Info record per segment restored and Debug
	// records of the checks made (default: silent).
	Logger *slog.Logger
	// Progress, if set, is called after every segment restored.
	Progress func(Progress)
}

func (o *RestoreOptions) prefetch() int {
	if o.Prefetch <= 0 {
		return 8
	}
	return o.Prefetch
}

const (
	// fullSegmentBytes is about the stored size of a segment of the
	// default 100,000 datoms.
	fullSegmentBytes = 512 << 10
	// maxWindowScale bounds how many times Prefetch segments are fetched
	// at once when they are small.
	maxWindowScale = 4
)

// fetchWindow is the number of segments of chain fetched at once:
// Prefetch, or up to maxWindowScale times as many when the largest of
// them is that many times smaller than a full segment, so that the
// stored bytes in flight stay within those of Prefetch full segments.
// A store that does not tell sizes gets Prefetch.
func (o *RestoreOptions) fetchWindow(chain []SegmentInfo) int {
	n := o.prefetch()
	largest := int64(0)
	for _, s := range chain {
		if s.Size <= 0 {
			return n
		}
		largest = max(largest, s.Size)
	}
	if largest == 0 {
		return n
	}
	return n * int(min(max(fullSegmentBytes/largest, 1), maxWindowScale))
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
	// oneSegment stops after the first segment that restores a
	// transaction (RestoreSegment).
	oneSegment bool
	// ops is buildOps' attribute table of the segment being applied.
	ops *segOps
	// chain is where the store's chain of segments stands.
	chain chainState
	// limits are the target's (datomic.Limited; zero: Datomic Pro).
	limits datomic.Limits
	// finalIdents are the idents that attributes renamed in the source
	// have at the end of the store, as its newest segment (finalFrom)
	// tells them: Filter, Rewrite and ElideAttributes know attributes by
	// them, whichever segment a datom comes from.
	finalIdents map[int64]datomic.Keyword
	finalFrom   SegmentInfo
	// formerIdents are, in a restore that continues an earlier one, the
	// idents that attributes renamed since have in the target: what the
	// options knew them by then (see checkRenamedSince).
	formerIdents map[int64]datomic.Keyword
	// names are what the target is to record (AttributeNamesAttr) with
	// the first transaction applied: finalIdents, or nothing when the
	// options name no attribute.
	names []string
	// absentRenamed are attributes renamed in the source that the target
	// does not have and the options no longer elide, by their ident at
	// the end of the store; installed records those whose installation a
	// preflight saw (see checkRenamedSince).
	absentRenamed map[int64]datomic.Keyword
	installed     map[int64]bool
	// parts are the target's partitions (targetPartition).
	parts targetParts
	// bare are source ids that refs inside tuples of the transaction being
	// built name, and that the target has no entity for yet; lookups
	// those it has, but whose target ids the restore does not know.
	bare, lookups []int64
}

// newRestorer checks the arguments and reads the target's state. prior is
// the previous restorer of a loop over the same target (Replicate), whose
// id mapping is kept when no one else wrote to the target since.
func newRestorer(ctx context.Context, db string, store BackupStore, target datomic.Conn, opts *RestoreOptions, prior *restorer) (*restorer, error) {
	if opts == nil {
		opts = &RestoreOptions{}
	}
	if err := checkCallArgs(db, store, target, "target"); err != nil {
		return nil, newCallError("restore", db, err)
	}
	st, err := readTargetState(ctx, target)
	if err != nil {
		return nil, newCallError("restore", db, err)
	}
	r := &restorer{
		db: db, store: store, target: target, opts: opts, st: st,
		log:  loggerOrDiscard(opts.Logger).With("db", db),
		prog: newProgressReporter("restore", opts.Progress),
		pos:  st.lastT + 1,
	}
	r.res.LastT = st.lastT
	if st.pending != "" {
		// An excision was restored, but not what follows it.
		instant, err := latestInstant(ctx, target)
		if err == nil {
			err = r.reassertIDs(ctx, st.pending, instant)
		}
		if err != nil {
			return nil, newCallError("restore", db, err)
		}
	}
	if lc, ok := target.(datomic.Limited); ok {
		if r.limits, err = lc.Limits(ctx); err != nil {
			return nil, newCallError("restore", db, fmt.Errorf("read the target's limits: %w", err))
		}
		if r.limits.NoPartitions && (prior == nil || !prior.limits.NoPartitions) {
			r.log.Info("the target places new entities itself (it has no partitions): source partitions are not kept", "product", r.limits.Product)
		}
	}
	if prior != nil {
		r.finalIdents, r.finalFrom = prior.finalIdents, prior.finalFrom
	}
	switch {
	case prior != nil && prior.remap != nil && prior.st.origAttr == st.origAttr && prior.st.lastT == st.lastT:
		r.remap = prior.remap
		r.remap.db = nil
	case st.setUp:
		if r.remap, err = newRemapper(ctx, target, st.origAttr, opts.CacheSize, st.lastT < 0); err != nil {
			return nil, newCallError("restore", db, err)
		}
	}
	return r, nil
}

// RestoreSegment restores the next segment of db from store into target:
// the transactions after the last one restored, up to the end of the
// segment that holds them. Restored is false when the store has nothing
// new. It refuses what Restore refuses, applying nothing of the segment.
func RestoreSegment(ctx context.Context, db string, store BackupStore, target datomic.Conn, opts *RestoreOptions) (RestoreResult, error) {
	begin := time.Now()
	r, err := newRestorer(ctx, db, store, target, opts, nil)
	if err != nil {
		return RestoreResult{LastT: -1}, err
	}
	r.oneSegment = true
	return r.run(ctx, begin)
}

// Restore restores every segment of db that the store holds beyond what the
// target already has, in order, loading and decoding the next segments
// while the current one is applied. It stops when the store has nothing
// more, at UntilT or UntilInstant, or at the first error; it can be called
// again to continue (a crash at any point resumes exactly once).
//
// It refuses, before applying anything: a store without segments of db
// (ErrNoSegments); a target holding data that no restore wrote
// (ErrTargetNotEmpty), or written to since (ErrTargetModified); a target
// restored from another database, or from a history that diverged from
// this store's (ErrWrongDatabase); and, before applying anything of the
// segment concerned, a gap in the store (ErrGap), a segment that does not
// continue the one before it (ErrChainBroken) and a corrupt segment
// (ErrCorruptSegment).
func Restore(ctx context.Context, db string, store BackupStore, target datomic.Conn, opts *RestoreOptions) (RestoreResult, error) {
	begin := time.Now()
	r, err := newRestorer(ctx, db, store, target, opts, nil)
	if err != nil {
		return RestoreResult{LastT: -1}, err
	}
	return r.run(ctx, begin)
}

// maxReplans bounds how often one call plans its chain again because
// segments vanished under it (a compaction replacing them).
const maxReplans = 8

// listAndCheck lists the store from where the restore stands and checks
// the target against it (checkTarget, loadFinalIdents), listing again
// when a segment it reads vanished meanwhile (a compaction replaced it).
func (r *restorer) listAndCheck(ctx context.Context) ([]SegmentInfo, error) {
	for attempt := 0; ; attempt++ {
		segs, err := r.listFrom(ctx)
		if err != nil {
			return nil, err
		}
		err = r.checkTarget(ctx, segs)
		if err == nil {
			err = r.loadFinalIdents(ctx, segs)
		}
		if errors.Is(err, ErrSegmentNotFound) && attempt < maxReplans {
			r.log.Debug("a segment vanished while the target was checked against it; listing again", "error", err)
			continue
		}
		return segs, err
	}
}

// run restores the segments available from r.pos on.
func (r *restorer) run(ctx context.Context, begin time.Time) (RestoreResult, error) {
	err := r.runChain(ctx)
	if errors.Is(err, errStop) {
		r.res.Stopped, err = true, nil
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		err = newCallError("restore", r.db, err)
	}
	return r.result(begin), err
}

func (r *restorer) runChain(ctx context.Context) error {
	segs, err := r.listAndCheck(ctx)
	if err != nil {
		return err
	}
	for replans := 0; ; replans++ {
		chain, gapErr := planChain(r.db, segs, r.pos)
		truncated := false
		if u := r.opts.UntilT; u > 0 {
			// Nothing after the stop point is applied, nor checked.
			for i, s := range chain {
				if s.StartT > u {
					chain, gapErr, truncated = chain[:i], nil, true
					break
				}
			}
		}
		if err := r.preflight(ctx, chain); err != nil {
			return err
		}
		done, vanished, err := r.applyChain(ctx, chain)
		if err != nil || done {
			return err
		}
		if truncated && !vanished {
			return errStop
		}
		if !vanished {
			return gapErr
		}
		if replans >= maxReplans {
			return fmt.Errorf("segments kept vanishing while they were read (a compaction running?): %w", ErrSegmentNotFound)
		}
		r.log.Debug("segments vanished while read; listing again", "t", r.pos)
		if segs, err = r.listFrom(ctx); err != nil {
			return err
		}
	}
}

// loadFinalIdents reads, when the options name attributes (Filter,
// Rewrite, ElideAttributes), the renames the store's newest segment
// records: every attribute's ident at the end of the store.
func (r *restorer) loadFinalIdents(ctx context.Context, segs []SegmentInfo) error {
	if r.opts.Filter == nil && len(r.opts.Rewrite) == 0 && len(r.opts.ElideAttributes) == 0 {
		r.names = nil
		return nil
	}
	newest := segs[0]
	for _, s := range segs[1:] {
		if s.EndT > newest.EndT || s.EndT == newest.EndT && s.StartT < newest.StartT {
			newest = s
		}
	}
	if newest != r.finalFrom || r.finalIdents == nil {
		dec, err := NewSegmentDecoder(r.opts.Decode)
		if err != nil {
			return err
		}
		defer dec.Close()
		seg, err := r.loadWith(ctx, dec, newest)
		if err != nil {
			return fmt.Errorf("read the store's newest segment for the idents of renamed attributes: %w", err)
		}
		r.finalIdents, r.finalFrom = seg.Renames, newest
		if r.finalIdents == nil {
			r.finalIdents = map[int64]datomic.Keyword{}
		}
	}
	r.names = formatNames(r.finalIdents)
	return r.checkRenamedSince(ctx)
}

// planChain returns the segments a restore applies from pos on, in order;
// the error names a gap after them, when there is one.
func planChain(db string, segs []SegmentInfo, pos int64) ([]SegmentInfo, error) {
	var chain []SegmentInfo
	for {
		info, ok, err := nextInChain(db, segs, pos)
		if err != nil || !ok {
			return chain, err
		}
		chain = append(chain, info)
		pos = info.EndT
	}
}

// applyChain fetches the chain's segments, several at once, and applies
// them in order. done reports that the restore ended (its stop point, or
// one segment for RestoreSegment); vanished that a segment was gone when
// read, so the chain must be planned again from r.pos.
func (r *restorer) applyChain(ctx context.Context, chain []SegmentInfo) (done, vanished bool, err error) {
	newWorker := func() (func(context.Context, SegmentInfo) (*Segment, error), func()) {
		var dec *SegmentDecoder
		return func(ctx context.Context, info SegmentInfo) (*Segment, error) {
				if dec == nil {
					var err error
					if dec, err = NewSegmentDecoder(r.opts.Decode); err != nil {
						return nil, err
					}
				}
				return r.loadWith(ctx, dec, info)
			}, func() {
				if dec != nil {
					dec.Close()
				}
			}
	}
	for f := range ordered.Map(ctx, r.opts.fetchWindow(chain), chain, newWorker) {
		if errors.Is(f.Err, ErrSegmentNotFound) {
			return false, true, nil
		}
		if f.Err != nil {
			return false, false, f.Err
		}
		if err := r.chain.enter(r.db, f.Value, r.pos); err != nil {
			return false, false, err
		}
		if err := r.checkCarry(f.Value, r.pos); err != nil {
			var cre *CannotRestoreError
			if errors.As(err, &cre) {
				cre.Applied = r.res.Transactions
			}
			return false, false, err
		}
		restoredBefore := r.res.Transactions
		if err := r.apply(ctx, f.Value); err != nil {
			return false, false, err
		}
		if r.oneSegment && r.res.Transactions > restoredBefore {
			return true, false, nil
		}
	}
	return false, false, ctx.Err()
}

func (r *restorer) result(begin time.Time) RestoreResult {
	res := r.res
	if r.remap != nil {
		res.Remap = r.remap.snapshot()
	}
	res.Elapsed = time.Since(begin)
	return res
}

// listFrom lists the segments that may hold transactions from r.pos on. A
// store that holds no segment of the database at all is ErrNoSegments.
func (r *restorer) listFrom(ctx context.Context) ([]SegmentInfo, error) {
	from := max(min(r.listHint, r.pos), 0)
	segs, err := r.store.List(ctx, r.db, from)
	if err == nil && from > 0 {
		_, ok, gapEnd := nextSegment(segs, r.pos)
		_, holdsLast, _ := nextSegment(segs, r.st.lastT)
		if !ok && gapEnd > 0 || len(segs) == 0 || r.st.lastT >= 0 && !holdsLast {
			// Looks like a gap or the end, or the segment of the last
			// restored transaction starts earlier: list it all.
			segs, err = r.store.List(ctx, r.db, 0)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	if len(segs) == 0 {
		return nil, noSegments(r.store)
	}
	return segs, nil
}

// storeName describes a store in messages.
func storeName(s BackupStore) string {
	switch s := s.(type) {
	case *FSStore:
		return "the filesystem store " + s.Dir()
	case *S3Store:
		return "s3://" + s.Bucket() + "/" + s.Prefix()
	case *MemStore:
		return "the in-memory store"
	case fmt.Stringer:
		return s.String()
	}
	return fmt.Sprintf("the store (%T)", s)
}

// noSegments is the error of a store without segments of the database.
func noSegments(s BackupStore) error {
	return fmt.Errorf("%w in %s (is the name right? has it been backed up?)", ErrNoSegments, storeName(s))
}

// nextInChain picks the segment holding pos; ok is false when there is none
// yet, and an error names the gap when later segments exist.
func nextInChain(db string, segs []SegmentInfo, pos int64) (SegmentInfo, bool, error) {
	info, ok, gapEnd := nextSegment(segs, pos)
	if !ok && gapEnd > 0 {
		return info, false, &GapError{DB: db, StartT: pos, EndT: gapEnd}
	}
	if ok && info.EndT <= pos {
		return info, false, fmt.Errorf("segment %s does not advance the restore past t %d", info, pos)
	}
	return info, ok, nil
}

// loadWith reads and decodes one segment with dec.
func (r *restorer) loadWith(ctx context.Context, dec *SegmentDecoder, info SegmentInfo) (*Segment, error) {
	data, err := r.store.Load(ctx, r.db, info)
	if err != nil {
		return nil, segmentError(info, err)
	}
	seg, err := dec.Decode(data, info)
	if err != nil {
		return nil, err
	}
	if seg.DB != r.db {
		return nil, &SegmentError{DB: r.db, Seg: info, Err: fmt.Errorf("%w: it was written for %q", ErrWrongDatabase, seg.DB)}
	}
	return seg, nil
}

// apply restores the transactions of seg that the target does not have yet.
func (r *restorer) apply(ctx context.Context, seg *Segment) error {
	applied := 0
	datoms := 0
	for i, tx := range seg.Txs {
		if tx.T < r.pos {
			continue
		}
		if r.stopsBefore(seg, tx) {
			return r.finishSegment(seg, applied, datoms, errStop)
		}
		// The last transaction this call applies from seg records the
		// link the restore stands at.
		var link *TxLink
		if i == len(seg.Txs)-1 || r.stopsBefore(seg, seg.Txs[i+1]) {
			l, err := r.chain.linkOf(seg, i)
			if err != nil {
				return r.finishSegment(seg, applied, datoms, err)
			}
			link = &l
		}
		if err := r.applyTx(ctx, seg, tx, link); err != nil {
			return r.finishSegment(seg, applied, datoms, err)
		}
		applied++
		datoms += len(tx.Datoms)
		r.pos = tx.T + 1
	}
	r.pos = max(r.pos, seg.EndT)
	if applied > 0 {
		r.lastSegStart = seg.StartT
	}
	r.chain.leave(seg)
	return r.finishSegment(seg, applied, datoms, nil)
}

// stopsBefore reports whether the restore's stop point comes before tx.
func (r *restorer) stopsBefore(seg *Segment, tx datomic.Tx) bool {
	if r.opts.UntilT > 0 && tx.T > r.opts.UntilT {
		return true
	}
	if !r.opts.UntilInstant.IsZero() {
		if inst, ok := txInstant(seg, tx); ok && inst.After(r.opts.UntilInstant) {
			return true
		}
	}
	return false
}

func (r *restorer) finishSegment(seg *Segment, txs, datoms int, err error) error {
	r.ops = nil // it holds seg, which may now be freed
	if txs > 0 || err == nil {
		r.res.Restored = r.res.Restored || txs > 0
		r.res.Segments++
		r.res.Transactions += txs
		r.res.Datoms += datoms
		r.log.Info("segment restored", "start_t", seg.StartT, "end_t", seg.EndT, "txs", txs, "datoms", datoms)
		r.prog.add(1, txs, datoms, 0, r.res.LastT)
	}
	return err
}

// applyTx restores one source transaction as one target transaction. With
// link, the transaction also records where the restore stands.
func (r *restorer) applyTx(ctx context.Context, seg *Segment, tx datomic.Tx, link *TxLink) error {
	if !r.st.complete {
		if err := r.setUp(ctx, seg, tx); err != nil {
			return err
		}
	}
	ops, err := r.buildOps(ctx, seg, tx)
	if errors.Is(err, errNeedsIDs) {
		if err = r.prepareIDs(ctx, seg, tx); err == nil {
			ops, err = r.buildOps(ctx, seg, tx)
		}
	}
	if err != nil {
		return fmt.Errorf("source t %d: %w", tx.T, err)
	}
	if link != nil {
		ops = append(ops, datomic.Add{E: r.st.markerAttr, A: r.st.linkAttr, V: formatLink(*link)})
	}
	if fp := r.chain.lineage; !fp.IsZero() && r.st.lineage != fp.String() {
		ops = append(ops, datomic.Add{E: r.st.markerAttr, A: r.st.lineageAttr, V: fp.String()})
	}
	pending, err := r.excisedIDs(ctx, seg, tx)
	if err != nil {
		return fmt.Errorf("source t %d: %w", tx.T, err)
	}
	if pending != "" {
		pending = strings.TrimSpace(r.st.pending + " " + pending)
		ops = append(ops, datomic.Add{E: r.st.markerAttr, A: r.st.pendingAttr, V: pending})
	}
	names := namesOps(r.st.markerAttr, r.st.namesAttr, r.st.names, r.names)
	ops = append(ops, names...)
	rep, err := r.target.Transact(ctx, ops)
	if err != nil {
		return fmt.Errorf("source t %d was not restored (nothing of it applied): %w", tx.T, err)
	}
	if err := r.remap.commit(rep.Tempids); err != nil {
		return fmt.Errorf("source t %d: %w", tx.T, err)
	}
	if fp := r.chain.lineage; !fp.IsZero() {
		r.st.lineage = fp.String()
	}
	r.st.lastT = tx.T
	r.res.LastT = tx.T
	if len(names) > 0 {
		r.st.names = r.names
	}
	if pending != "" {
		r.st.pending = pending
		instant, _ := txInstant(seg, tx)
		if err := r.reassertIDs(ctx, pending, instant); err != nil {
			return fmt.Errorf("source t %d: %w", tx.T, err)
		}
	}
	return nil
}

// setUp installs the bookkeeping attributes the target lacks before the
// first transaction is restored.
func (r *restorer) setUp(ctx context.Context, seg *Segment, tx datomic.Tx) error {
	var instant time.Time
	if r.st.setUp {
		var err error
		if instant, err = latestInstant(ctx, r.target); err != nil {
			return err
		}
	} else {
		var ok bool
		if instant, ok = txInstant(seg, tx); !ok {
			return fmt.Errorf("source t %d has no :db/txInstant", tx.T)
		}
	}
	fresh := !r.st.setUp
	st, err := setUpTarget(ctx, r.target, r.st, instant)
	if err != nil {
		return err
	}
	st.lastT, st.lineage, st.link = r.st.lastT, r.st.lineage, r.st.link
	r.st = st
	if fresh {
		r.remap, err = newRemapper(ctx, r.target, st.origAttr, r.opts.CacheSize, true)
	}
	return err
}

// txInstant returns the :db/txInstant of tx.
func txInstant(seg *Segment, tx datomic.Tx) (time.Time, bool) {
	id := tx.ID()
	for _, d := range tx.Datoms {
		if d.E == id && d.Added && seg.Attrs[d.A].Ident == txInstantAttr {
			t, ok := d.V.(time.Time)
			return t, ok
		}
	}
	return time.Time{}, false
}
