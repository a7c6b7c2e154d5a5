package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/dcbackup/dcbackup/datomic"
	"golang.org/x/sync/errgroup"
)

// Backup brings the store up to date with the source as it is now. It
// checks every segment's header (a ranged read where the store has one)
// and moves damaged segments aside (Healed), and so, where two touching
// segments' links differ, the one whose history is not the source's;
// checks that the source continues the store at every boundary it will
// write next to (see
// BackupNext; ErrSourceMismatch otherwise, before anything is written),
// then backs up every range of [0, basis] that no sound segment covers (all
// of it on a first run) in parallel, with at most Concurrency ranges at a
// time. It is resumable: a run that failed or was cancelled leaves only
// whole segments, and the next run does only what is missing. The first
// error cancels the rest and is returned.
func Backup(ctx context.Context, db string, conn datomic.Conn, store BackupStore, opts *BackupOptions) (BackupResult, error) {
	return backupCall(ctx, "backup", db, conn, store, opts, func(r *backupRun) (BackupResult, error) {
		return r.healAndFill(ctx, scanHeaders, func(storeState) int64 { return r.basis + 1 })
	})
}

// Repair reads every segment of db's store in full (checksums, decoding,
// digests), moves damaged segments aside (Healed), as Backup does, and backs up from the
// source every range that no sound segment covers, in parallel, after the
// same checks as Backup. It only fills holes: it does not extend the backup
// past the end of its last segment (BackupNext or Backup do that), nor
// past the source's basis. EndT is that end: the store covers [0, EndT)
// without a gap once Repair succeeds.
func Repair(ctx context.Context, db string, conn datomic.Conn, store BackupStore, opts *BackupOptions) (BackupResult, error) {
	return backupCall(ctx, "repair", db, conn, store, opts, func(r *backupRun) (BackupResult, error) {
		// A damaged segment's name may reach past what the source has:
		// no range beyond the basis is ever written.
		return r.healAndFill(ctx, scanFull, func(st storeState) int64 { return min(st.end, r.basis+1) })
	})
}

// maxRefills bounds how often one Backup or Repair checks the store again
// after a range it filled turned out not to continue into the segment
// after it (errStaleSuccessor).
const maxRefills = 16

// healAndFill checks the store to depth, moves damaged segments and the
// wrong side of broken links aside, and backs up what no sound segment
// covers in [0, end(state)). A range backed up now that the segment after
// it does not continue (that segment predates an excision in the source)
// makes it check the store again, which moves that segment aside too.
func (r *backupRun) healAndFill(ctx context.Context, depth scanDepth, end func(storeState) int64) (BackupResult, error) {
	var res BackupResult
	for refill := 0; ; refill++ {
		st, err := r.checkStore(ctx, depth, &res)
		if err != nil {
			return res, err
		}
		if err := r.healBrokenLinks(ctx, &st, &res); err != nil {
			return res, err
		}
		upTo := end(st)
		filled, err := r.fillGaps(ctx, st, upTo)
		res.add(filled)
		switch {
		case errors.Is(err, errStaleSuccessor) && refill == maxRefills:
			err = fmt.Errorf("%w; after %d rounds of moving such segments aside, some remain: run it again", err, maxRefills)
		case errors.Is(err, errStaleSuccessor):
			r.log.Info("a range backed up again is not continued by the segment after it (an excision since it was written): checking the store again", "error", err)
			continue
		case err == nil:
			res.EndT = upTo
		}
		return res, err
	}
}

// Gaps returns the ranges of source t in [0, end of the last segment) that
// no sound segment of db covers: it reads every segment's header, so a
// damaged segment's range is a gap. A healthy store has none.
func Gaps(ctx context.Context, db string, store BackupStore) ([]Gap, error) {
	if err := ValidateDBName(db); err != nil {
		return nil, newCallError("gaps", db, err)
	}
	if store == nil {
		return nil, newCallError("gaps", db, errors.New("nil store"))
	}
	scanned, err := scanStore(ctx, db, store, scanOptions{depth: scanHeaders, concurrency: defaultScanConcurrency})
	if err != nil {
		return nil, newCallError("gaps", db, err)
	}
	var sound []SegmentInfo
	end := int64(0)
	for _, s := range scanned {
		if !s.Vanished {
			end = max(end, s.Info.EndT)
		}
		if s.sound() {
			sound = append(sound, s.Info)
		}
	}
	return findGaps(sound, end), nil
}

// defaultScanConcurrency is how many segments a store check reads at once
// by default: enough to hide an object store's latency.
const defaultScanConcurrency = 8

// storeState is a checked view of a store.
type storeState struct {
	// sound are the segments that can be used, in listing order.
	sound []scannedSegment
	// end is the end of the last listed segment, damaged ones included.
	end int64
}

// checkStore scans the store to depth, moves damaged segments aside and
// checks that every sound segment is of the source's lineage.
func (r *backupRun) checkStore(ctx context.Context, depth scanDepth, res *BackupResult) (storeState, error) {
	var st storeState
	scanned, err := scanStore(ctx, r.db, r.store, scanOptions{depth: depth, concurrency: max(r.opts.concurrency(), defaultScanConcurrency), decode: r.opts.Decode})
	if err != nil {
		return st, err
	}
	// Segments of another lineage are moved aside as damage when the
	// store is the source's (more than half of its transactions are);
	// otherwise the source is not the store's database.
	v1Newest, v1Ours, err := r.v1SegmentsAreOurs(ctx, scanned)
	if err != nil {
		return st, err
	}
	if v1Newest != nil && !v1Ours {
		return st, &SourceMismatchError{DB: r.db, Segment: v1Newest.Info, What: "the store's version 1 segments, which record no lineage, hold another history: the newest of them does not end with the source's transaction"}
	}
	ours := lineageShare(scanned, r.fp, v1Ours) > 0.5
	for i := range scanned {
		s := &scanned[i]
		switch {
		case s.Vanished:
			continue
		case s.sound() && s.Header.Version >= 2 && s.Header.Lineage != r.fp && !ours:
			return st, &SourceMismatchError{DB: r.db, Segment: s.Info, What: fmt.Sprintf(
				"the store holds another database (lineage %s; the source, %s, is lineage %s)", s.Header.Lineage, r.lineage, r.fp)}
		case s.sound() && s.Header.Version >= 2 && s.Header.Lineage != r.fp:
			s.Err = fmt.Errorf("%w: it is of lineage %s, the source and the store's other segments of lineage %s", ErrChainBroken, s.Header.Lineage, r.fp)
			fallthrough
		case !s.sound():
			if err := r.heal(ctx, s, res); err != nil {
				return st, err
			}
		default:
			st.sound = append(st.sound, *s)
		}
		st.end = max(st.end, s.Info.EndT)
	}
	r.log.Debug("store checked", "segments", len(scanned), "sound", len(st.sound), "healed", res.Healed)
	return st, nil
}

// lineageShare returns the share of the sound segments' transactions that
// are of lineage l, version 1 segments (older than lineages) counted as
// l's when v1 says so: weighing transactions, not segments, the answer
// does not depend on how a history was cut into segments.
func lineageShare(scanned []scannedSegment, l LineageFingerprint, v1 bool) float64 {
	var n, of int64
	for i := range scanned {
		s := &scanned[i]
		w, counts := lineageWeight(s)
		if !counts {
			continue
		}
		n += w
		if s.Header.Version < 2 && v1 || s.Header.Version >= 2 && s.Header.Lineage == l {
			of += w
		}
	}
	if n == 0 {
		return 0
	}
	return float64(of) / float64(n)
}

// v1SegmentsAreOurs returns the newest of the store's version 1 segments
// (nil when it has none) and whether they are the source's, those segments
// recording no lineage: whether that newest one ends with the source's
// transaction, compared by content.
func (r *backupRun) v1SegmentsAreOurs(ctx context.Context, scanned []scannedSegment) (*scannedSegment, bool, error) {
	var newest *scannedSegment
	for i := range scanned {
		s := &scanned[i]
		if !s.Vanished && s.sound() && s.Header.Version < 2 && (newest == nil || s.Info.EndT > newest.Info.EndT) {
			newest = s
		}
	}
	if newest == nil {
		return nil, false, nil
	}
	var res BackupResult
	_, err := r.continues(ctx, *newest, &res)
	var mismatch *SourceMismatchError
	if errors.As(err, &mismatch) {
		return newest, false, nil
	}
	return newest, err == nil, err
}

// fillGaps backs up every range of [0, upTo) that no sound segment covers,
// after checking that the source continues the store on both sides of
// each.
func (r *backupRun) fillGaps(ctx context.Context, st storeState, upTo int64) (BackupResult, error) {
	var res BackupResult
	infos := make([]SegmentInfo, len(st.sound))
	for i, s := range st.sound {
		infos[i] = s.Info
	}
	gaps := findGaps(infos, upTo)
	// The store's newest segment, when no gap follows it.
	if n := len(st.sound); n > 0 && (len(gaps) == 0 || gaps[len(gaps)-1].EndT <= newest(st.sound).Info.StartT) {
		if _, err := r.continues(ctx, newest(st.sound), &res); err != nil {
			return res, err
		}
	}
	var plan []gapPlan
	for _, g := range gaps {
		p := gapPlan{Gap: g, prev: NoTx}
		for _, s := range st.sound {
			if s.Info.EndT == g.StartT && g.StartT > 0 {
				prev, err := r.continues(ctx, s, &res)
				if err != nil {
					return res, err
				}
				p.prev = prev
				break
			}
		}
		for _, s := range st.sound {
			if s.Info.StartT == g.EndT && s.Header.Version >= 2 {
				if err := r.checkSuccessor(ctx, g, s); err != nil {
					return res, err
				}
				p.next, p.hasNext = s.Header.Prev, true
				break
			}
		}
		plan = append(plan, p)
	}
	filled, err := r.fill(ctx, plan)
	res.add(filled)
	return res, err
}

// newest returns the sound segment reaching furthest.
func newest(segs []scannedSegment) scannedSegment {
	best := segs[0]
	for _, s := range segs[1:] {
		if s.Info.EndT > best.Info.EndT {
			best = s
		}
	}
	return best
}

// checkSuccessor checks that the segment s after gap g continues from the
// source's last transaction before s.
func (r *backupRun) checkSuccessor(ctx context.Context, g Gap, s scannedSegment) error {
	view := storeView{seg: SegmentInfo{StartT: g.StartT, EndT: s.Info.StartT}, last: s.Header.Prev}
	if view.last.T >= 0 && view.last.T < g.StartT {
		view.seg.StartT = view.last.T
	}
	_, err := r.links.check(ctx, r.db, view)
	if err != nil {
		return fmt.Errorf("segment %s after the gap %s: %w", s.Info, SegmentInfo{StartT: g.StartT, EndT: g.EndT}, err)
	}
	return nil
}

// errStaleSuccessor marks a range backed up now that the segment after it
// does not continue.
var errStaleSuccessor = errors.New("the segment after it predates the range")

// gapPlan is a range to back up and the links on both sides of it.
type gapPlan struct {
	Gap
	// prev is the link the range continues from.
	prev TxLink
	// next is the Prev of the segment after the range, when there is one.
	next    TxLink
	hasNext bool
}

// fill backs up the planned ranges in parallel pieces. Each piece's first
// segment continues from the last transaction of the piece before it, so
// it waits for that piece to end before it is saved (while its
// transactions are read and encoded); the pieces of a range start in
// order, so the wait always ends.
func (r *backupRun) fill(ctx context.Context, plan []gapPlan) (BackupResult, error) {
	type piece struct {
		Gap
		prev func(context.Context) (TxLink, error)
		done chan TxLink
		last bool
		want gapPlan
	}
	var pieces []*piece
	for _, p := range plan {
		ps, err := r.pieces(ctx, p.Gap)
		if err != nil {
			return BackupResult{}, err
		}
		for i, g := range ps {
			pc := &piece{Gap: g, done: make(chan TxLink, 1), last: i == len(ps)-1, want: p}
			if i == 0 {
				prev := p.prev
				pc.prev = func(context.Context) (TxLink, error) { return prev, nil }
			} else {
				before := pieces[len(pieces)-1].done
				pc.prev = func(ctx context.Context) (TxLink, error) {
					select {
					case l := <-before:
						return l, nil
					case <-ctx.Done():
						return TxLink{}, ctx.Err()
					}
				}
			}
			pieces = append(pieces, pc)
		}
	}
	results := make([]BackupResult, len(pieces))
	// stale are the ranges backed up now that the segment after them does
	// not continue: the other ranges go on, and the caller checks the store
	// again for all of them at once.
	var staleMu sync.Mutex
	var stale []error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.concurrency())
	for i, p := range pieces {
		g.Go(func() error {
			last, err := r.backupRange(gctx, p.StartT, p.EndT, p.prev, &results[i])
			if err != nil {
				return err
			}
			if p.last && p.want.hasNext && last != p.want.next {
				staleMu.Lock()
				stale = append(stale, fmt.Errorf("the range %s, backed up now, ends with %s, but the segment after it continues from %s",
					SegmentInfo{StartT: p.want.StartT, EndT: p.want.EndT}, last, p.want.next))
				staleMu.Unlock()
			}
			p.done <- last
			return nil
		})
	}
	err := g.Wait()
	var total BackupResult
	for _, res := range results {
		total.add(res)
	}
	if err == nil && len(stale) > 0 {
		err = fmt.Errorf("%w (%w): %w", ErrChainBroken, errStaleSuccessor, errors.Join(stale...))
	}
	return total, err
}

// pieces cuts a range to back up into pieces for the workers. The range
// is cut from its first transaction on (t starts far above 0 on Datomic
// Pro, and the t values before it would only make empty pieces); its first
// piece still starts at the range's start, so no t is left out. A range
// without transactions stays one piece.
func (r *backupRun) pieces(ctx context.Context, g Gap) ([]Gap, error) {
	first := int64(-1)
	for tx, err := range r.schema.userTxs(ctx, r.conn, g.StartT, g.EndT) {
		if err != nil {
			return nil, fmt.Errorf("read log at t %d: %w", g.StartT, err)
		}
		first = tx.T
		break
	}
	if first < 0 {
		return []Gap{g}, nil
	}
	// A piece spans at least MaxTxPerSegment t values (a narrower one
	// could not fill a segment), except when several workers share the
	// range: then it is cut into four pieces per worker, so that they stay
	// busy until the end, but none narrower than a sixteenth of a
	// segment's transactions.
	conc := r.opts.concurrency()
	minSpan := int64(r.opts.maxTx())
	if conc > 1 {
		n := int64(conc * 4)
		even := (g.EndT - first + n - 1) / n
		minSpan = max(min(minSpan, even), minSpan/16, 1)
	}
	ps := splitRanges([]Gap{{StartT: first, EndT: g.EndT}}, conc*4, minSpan)
	ps[0].StartT = g.StartT
	return ps, nil
}

// backupRange writes [start, end) as one or more segments cut at the size
// limits; the last one ends exactly at end. The first segment continues
// from prev, asked for only when that segment is complete; the others
// from the segment before them. It returns the link the range ends with.
func (r *backupRun) backupRange(ctx context.Context, start, end int64, prev func(context.Context) (TxLink, error), res *BackupResult) (TxLink, error) {
	b := r.newBuilder(start, TxLink{})
	first := true
	var link TxLink
	finish := func(endT int64) error {
		b.seg.EndT = endT
		if first {
			p, err := prev(ctx)
			if err != nil {
				return err
			}
			b.seg.Prev, first = p, false
		}
		l, err := r.save(ctx, b.seg, res)
		link = l
		return err
	}
	for tx, err := range r.schema.userTxs(ctx, r.conn, start, end) {
		if err != nil {
			return TxLink{}, fmt.Errorf("read log [%d, %d): %w", start, end, err)
		}
		if b.full(r.opts) {
			if err := finish(tx.T); err != nil {
				return TxLink{}, err
			}
			b = r.newBuilder(tx.T, link)
		}
		if err := b.add(ctx, tx); err != nil {
			return TxLink{}, err
		}
	}
	if err := finish(end); err != nil {
		return TxLink{}, err
	}
	return link, nil
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
