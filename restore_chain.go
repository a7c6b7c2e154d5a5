package dcbackup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dcbackup/dcbackup/internal/ordered"
)

// chainState is where a restore stands in its store's chain of segments:
// the lineage of the segments applied, and the link of the last source
// transaction applied, which the next segment must continue.
type chainState struct {
	// lineage is the store's lineage, once a segment of format version 2
	// told it (zero until then).
	lineage LineageFingerprint
	// last is the link of the last transaction applied (NoTx before the
	// first); lastKnown reports that its digest is known, not only its t
	// (a version 1 segment, or a target restored by an older version,
	// records no digest).
	last      TxLink
	lastKnown bool
}

// enter checks that seg, applied from source t pos on, continues the
// transactions applied so far: it is of the same lineage, and its view of
// the last transaction before pos is the one applied.
func (c *chainState) enter(db string, seg *Segment, pos int64) error {
	if seg.Version < 2 {
		return nil
	}
	broken := func(format string, args ...any) error {
		return &SegmentError{DB: db, Seg: seg.Info(), Err: fmt.Errorf("%w: "+format, append([]any{ErrChainBroken}, args...)...)}
	}
	fp := seg.Header.Lineage
	if !c.lineage.IsZero() && fp != c.lineage {
		return broken("it is of lineage %s, the segments before it of lineage %s: a segment of another database", fp, c.lineage)
	}
	c.lineage = fp
	view, err := viewBefore(db, seg, pos)
	if err != nil {
		return err
	}
	if view.T != c.last.T || c.lastKnown && view.Digest != c.last.Digest {
		return broken("it continues from %s, but the last transaction restored is %s%s", view, c.last, rewrittenHint(view, c.last))
	}
	return nil
}

// leave records that every transaction of seg was applied.
func (c *chainState) leave(seg *Segment) {
	switch {
	case seg.Version >= 2:
		c.last, c.lastKnown = seg.Last, true
	case len(seg.Txs) > 0:
		c.last, c.lastKnown = TxLink{T: seg.Txs[len(seg.Txs)-1].T}, false
	}
}

// linkOf returns the link of seg's i-th transaction, to be recorded in the
// target: the header's Last for the last one, else computed; for a version
// 1 segment, only its t.
func (c *chainState) linkOf(seg *Segment, i int) (TxLink, error) {
	switch {
	case seg.Version < 2:
		return TxLink{T: seg.Txs[i].T}, nil
	case i == len(seg.Txs)-1:
		return seg.Last, nil
	}
	return NewTxDigester(seg.Lineage).Link(seg.Txs[i])
}

// formatLink is how a link is recorded in the target: "<t> <digest hex>",
// or "<t>" when the digest is not known.
func formatLink(l TxLink) string {
	if l.Digest == (TxDigest{}) {
		return strconv.FormatInt(l.T, 10)
	}
	return strconv.FormatInt(l.T, 10) + " " + l.Digest.String()
}

// parseLink reads a recorded link; known reports that it has a digest.
func parseLink(s string) (l TxLink, known, ok bool) {
	ts, hx, hasDigest := strings.Cut(s, " ")
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return l, false, false
	}
	l.T = t
	if !hasDigest {
		return l, false, true
	}
	b, err := hex.DecodeString(hx)
	if err != nil || len(b) != len(l.Digest) {
		return l, false, false
	}
	copy(l.Digest[:], b)
	return l, true, true
}

// checkTarget checks, before anything is applied (and also when there is
// nothing to apply), that the target was restored from this store's
// history: the transaction it last restored is in the store, in a segment
// of the lineage it recorded, with the digest it recorded. It sets the
// chain's starting point.
func (r *restorer) checkTarget(ctx context.Context, segs []SegmentInfo) error {
	last := r.st.lastT
	if last < 0 {
		r.chain.last, r.chain.lastKnown = NoTx, true
		return nil
	}
	// Both sentinels match: the store is of another database than the
	// target's, and the target's marker disagrees with the store.
	other := func(format string, args ...any) error {
		return fmt.Errorf("%w (%w): the target was restored from another backup: "+format, append([]any{ErrWrongDatabase, ErrTargetModified}, args...)...)
	}
	seg, err := r.segmentHolding(ctx, segs, last)
	if err != nil {
		return err
	}
	if seg == nil {
		for _, g := range CoverageGaps(segs) {
			if g.StartT <= last && last < g.EndT {
				// A hole in the store (a segment lost, or moved aside and
				// not backed up again yet), not another database.
				return &GapError{DB: r.db, StartT: g.StartT, EndT: g.EndT}
			}
		}
		end := int64(0)
		for _, s := range segs {
			end = max(end, s.EndT)
		}
		return other("its last restored source transaction is t %d, and this store covers t only up to %d", last, end-1)
	}
	if seg.Version >= 2 && r.st.lineage != "" && r.st.lineage != seg.Header.Lineage.String() {
		return other("it records lineage %s, this store holds lineage %s", r.st.lineage, seg.Header.Lineage)
	}
	i := txIndex(seg, last)
	if i < 0 {
		return other("its last restored source transaction is t %d, which this store does not have", last)
	}
	r.chain.lineage = seg.Header.Lineage
	r.chain.last, r.chain.lastKnown = TxLink{T: last}, false
	if seg.Version < 2 {
		return nil
	}
	at, err := r.chain.linkOf(seg, i)
	if err != nil {
		return err
	}
	r.chain.last, r.chain.lastKnown = at, true
	rec, known, ok := parseLink(r.st.link)
	if !ok || !known || r.st.lineage == "" {
		return nil // restored by a version that recorded no digest
	}
	if rec.T != last {
		// A crash after a transaction that recorded no link: check the
		// last one recorded.
		if seg, err = r.segmentHolding(ctx, segs, rec.T); err != nil {
			return err
		}
		if seg == nil || seg.Version < 2 || txIndex(seg, rec.T) < 0 {
			return other("its restored source transaction t %d is not in this store", rec.T)
		}
		if at, err = r.chain.linkOf(seg, txIndex(seg, rec.T)); err != nil {
			return err
		}
	}
	if at.Digest != rec.Digest {
		excised, err := r.excisionAfter(ctx, segs, rec.T)
		if err != nil {
			return err
		}
		if !excised {
			return other("its restored source transaction t %d has digest %s, this store's has %s: the histories diverged", rec.T, rec.Digest, at.Digest)
		}
		// The store was purged of what a later excision removed: the
		// target gets the excision when it gets there.
		r.log.Warn("the target's last restored transaction differs from the store's, which was purged of data a later excision removed", "t", rec.T)
	}
	return nil
}

// excisionAfter reports whether a segment of the store after source t
// holds an excision, by their headers.
func (r *restorer) excisionAfter(ctx context.Context, segs []SegmentInfo, t int64) (bool, error) {
	for _, s := range segs {
		if s.EndT <= t {
			continue
		}
		h, err := readHeader(ctx, r.db, r.store, s)
		if errors.Is(err, ErrSegmentNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if h.Features&FeatureExcision != 0 {
			return true, nil
		}
	}
	return false, nil
}

// segmentHolding loads the segment a restore would read source t from
// (nil when none covers it).
func (r *restorer) segmentHolding(ctx context.Context, segs []SegmentInfo, t int64) (*Segment, error) {
	info, ok, _ := nextSegment(segs, t)
	if !ok {
		return nil, nil
	}
	dec, err := NewSegmentDecoder(r.opts.Decode)
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	return r.loadWith(ctx, dec, info)
}

// txIndex returns the index of seg's transaction at t, or -1.
func txIndex(seg *Segment, t int64) int {
	for i, tx := range seg.Txs {
		if tx.T == t {
			return i
		}
	}
	return -1
}

// preflight reads the headers of the chain's segments, several at once,
// before anything is applied, and checks that they are of one lineage and
// that each segment that touches the one before it continues from its
// last transaction.
func (r *restorer) preflight(ctx context.Context, chain []SegmentInfo) error {
	if len(chain) == 0 {
		return nil
	}
	newWorker := func() (func(context.Context, SegmentInfo) (SegmentHeader, error), func()) {
		return func(ctx context.Context, info SegmentInfo) (SegmentHeader, error) {
			return readHeader(ctx, r.db, r.store, info)
		}, nil
	}
	lineage := r.chain.lineage
	prev, prevKnown := r.chain.last, r.chain.lastKnown
	prevEnd := r.pos
	heads := make(map[SegmentInfo]SegmentHeader, len(chain))
	for f := range ordered.Map(ctx, r.opts.fetchWindow(chain), chain, newWorker) {
		if errors.Is(f.Err, ErrSegmentNotFound) {
			// Vanished (a compaction): applyChain plans again; the rest of
			// the chain is still checked.
			prevKnown = false
			continue
		}
		if f.Err != nil {
			return f.Err
		}
		h := f.Value
		heads[f.Item] = h
		if h.Version < 2 {
			prevKnown = false
			prevEnd = f.Item.EndT
			continue
		}
		broken := func(format string, args ...any) error {
			return &SegmentError{DB: r.db, Seg: f.Item, Err: fmt.Errorf("%w: "+format, append([]any{ErrChainBroken}, args...)...)}
		}
		if !lineage.IsZero() && h.Lineage != lineage {
			return broken("it is of lineage %s, the segments before it of lineage %s: a segment of another database", h.Lineage, lineage)
		}
		lineage = h.Lineage
		if prevKnown && f.Item.StartT <= prevEnd {
			view := h.Prev
			if f.Item.StartT < prevEnd {
				// Entered midway (an overlap): its view of the transaction
				// before prevEnd is in its payload.
				var err error
				view, err = r.linkInside(ctx, f.Item, prevEnd)
				if errors.Is(err, ErrSegmentNotFound) {
					// Vanished (a compaction): applyChain plans again.
					prevKnown, prevEnd = false, f.Item.EndT
					continue
				}
				if err != nil {
					return err
				}
			}
			if view != prev {
				return broken("it continues from %s, but the segment before it ends with %s%s", view, prev, rewrittenHint(view, prev))
			}
		}
		prev, prevKnown, prevEnd = h.Last, true, f.Item.EndT
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.preflightCarry(ctx, chain, heads)
}

// linkInside loads segment info and returns its view of the last source
// transaction before pos, a t inside its range.
func (r *restorer) linkInside(ctx context.Context, info SegmentInfo, pos int64) (TxLink, error) {
	dec, err := NewSegmentDecoder(r.opts.Decode)
	if err != nil {
		return TxLink{}, err
	}
	defer dec.Close()
	seg, err := r.loadWith(ctx, dec, info)
	if err != nil {
		return TxLink{}, err
	}
	return viewBefore(r.db, seg, pos)
}

// viewBefore returns seg's view of the last source transaction before pos:
// the link of its last transaction before pos, or of the one before it.
func viewBefore(db string, seg *Segment, pos int64) (TxLink, error) {
	for i := len(seg.Txs) - 1; i >= 0; i-- {
		if seg.Txs[i].T < pos {
			l, err := NewTxDigester(seg.Lineage).Link(seg.Txs[i])
			if err != nil {
				return TxLink{}, &SegmentError{DB: db, Seg: seg.Info(), Err: corruptf("%v", err)}
			}
			return l, nil
		}
	}
	return seg.Prev, nil
}

// rewrittenHint explains two views of one transaction that differ in
// digest within one lineage: what PurgeExcised leaves between rewriting
// two consecutive groups of segments.
func rewrittenHint(a, b TxLink) string {
	if a.T != b.T || a.T < 0 {
		return ""
	}
	return " (the same transaction seen two ways: after an excision in the source, an interrupted PurgeExcised leaves this; run it again, or Backup, which moves the side that is not the source's aside)"
}
