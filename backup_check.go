package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// maxHealLast bounds how many damaged newest segments BackupNext moves
// aside in one call before it gives up.
const maxHealLast = 16

// lastSound returns the store's newest segment that can be read, moving
// aside the damaged ones above it (counted in res.Healed). ok is false when
// the store has no sound segment.
func (r *backupRun) lastSound(ctx context.Context, res *BackupResult) (scannedSegment, bool, error) {
	for range maxHealLast {
		info, ok, err := r.store.Last(ctx, r.db)
		if err != nil {
			return scannedSegment{}, false, fmt.Errorf("find the last segment: %w", err)
		}
		if !ok {
			return scannedSegment{}, false, nil
		}
		s, err := checkHead(ctx, r.db, r.store, info)
		if err != nil {
			return s, false, segmentError(info, err)
		}
		switch {
		case s.Vanished:
			continue
		case s.sound():
			return s, true, nil
		}
		if err := r.heal(ctx, &s, res); err != nil {
			return s, false, err
		}
	}
	return scannedSegment{}, false, fmt.Errorf("the %d newest segments are damaged; run Repair", maxHealLast)
}

// heal moves a damaged segment out of the store's listing, so that its
// range is backed up again.
func (r *backupRun) heal(ctx context.Context, s *scannedSegment, res *BackupResult) error {
	rm, ok := r.store.(SegmentRemover)
	if !ok {
		return fmt.Errorf("this store (%T) cannot move a damaged segment aside: remove it by hand, then run Repair: %w", r.store, segmentError(s.Info, s.Err))
	}
	where, err := rm.Quarantine(ctx, r.db, s.Info)
	if errors.Is(err, ErrSegmentNotFound) {
		return nil // gone meanwhile: someone else healed it
	}
	if err != nil {
		return fmt.Errorf("move damaged segment %s aside: %w", s.Info, err)
	}
	res.Healed++
	r.log.Warn("damaged segment moved aside; its range will be backed up again",
		"start_t", s.Info.StartT, "end_t", s.Info.EndT, "moved_to", where, "damage", s.Err)
	return nil
}

// continues checks that the source continues the store at segment s (its
// lineage, basis and last transaction) and returns the link a segment
// written after s continues from.
func (r *backupRun) continues(ctx context.Context, s scannedSegment, res *BackupResult) (TxLink, error) {
	h := s.Header
	if h.Version >= 2 && h.Lineage != r.fp {
		return TxLink{}, &SourceMismatchError{DB: r.db, Segment: s.Info, What: fmt.Sprintf(
			"the store holds another database (lineage %s; the source, %s, is lineage %s)", h.Lineage, r.lineage, r.fp)}
	}
	last := h.Last
	if h.Version < 2 {
		var err error
		if last, err = r.v1Last(ctx, s.Info); err != nil {
			return TxLink{}, err
		}
	}
	excised, err := r.links.check(ctx, r.db, storeView{seg: s.Info, last: last})
	if err != nil {
		return TxLink{}, err
	}
	if excised {
		if err := r.onlyExcised(ctx, s.Info, last.T); err != nil {
			return TxLink{}, err
		}
		res.Excised = true
		r.log.Warn("the source excised data that the store still holds; PurgeExcised removes it from the store",
			"t", last.T, "start_t", s.Info.StartT, "end_t", s.Info.EndT)
	}
	if last.T < 0 && h.Version < 2 {
		return r.linkBefore(ctx, s.Info.StartT)
	}
	return last, nil
}

// onlyExcised checks, where the store's segment can be read, that the
// source's transaction at t holds nothing the store's does not: an
// excision removes datoms, it adds none. (An encrypted segment without
// an identity cannot be read: the excision is then taken for the cause.)
func (r *backupRun) onlyExcised(ctx context.Context, info SegmentInfo, t int64) error {
	end := info.EndT
	if t < info.StartT {
		// An empty segment carries the link of a transaction before it:
		// that transaction is in the segment that holds t.
		segs, err := r.store.List(ctx, r.db, 0)
		if err != nil {
			return fmt.Errorf("list segments: %w", err)
		}
		holder, ok, _ := nextSegment(segs, t)
		if !ok || holder.StartT > t {
			return &SourceMismatchError{DB: r.db, Segment: info, What: fmt.Sprintf("no segment of the store holds its transaction t %d", t)}
		}
		info = holder
	}
	data, err := r.store.Load(ctx, r.db, info)
	if err != nil {
		return segmentError(info, err)
	}
	seg, err := DecodeSegment(data, info, withDB(r.opts.Decode, r.db))
	if errors.Is(err, ErrNoKey) {
		// Another history would differ the same way, and only the
		// payload tells them apart. Where a newer segment follows, the
		// store's newest one, checked against the source, tells whose
		// store it is; at the store's end this host cannot.
		last, ok, lerr := r.store.Last(ctx, r.db)
		if lerr == nil && ok && last.EndT > end {
			return nil
		}
		return fmt.Errorf("the store's transaction t %d differs from the source's, and the source excised data since: telling that the excision explains it needs the segment's payload; run this once with DecodeOptions.Identities, or PurgeExcised where they are: %w", t, err)
	}
	if err != nil {
		return err
	}
	i := txIndex(seg, t)
	if i < 0 {
		return &SourceMismatchError{DB: r.db, Segment: info, What: fmt.Sprintf("the store's segment has no transaction at t %d", t)}
	}
	held := map[string]bool{}
	for _, d := range seg.Txs[i].Datoms {
		held[datomKey(d.E, d.A, d.V, d.Added)] = true
	}
	for tx, err := range r.schema.userTxs(ctx, r.conn, t, t+1) {
		if err != nil {
			return fmt.Errorf("read log at t %d: %w", t, err)
		}
		for _, d := range tx.Datoms {
			if !held[datomKey(d.E, d.A, d.V, d.Added)] {
				return &SourceMismatchError{DB: r.db, Segment: info, What: fmt.Sprintf(
					"the source's transaction t %d holds %s, which the store's does not: not an excision's doing", t, d)}
			}
		}
	}
	return nil
}

// v1Last returns the link of the last transaction of a version 1 segment,
// which records none: the digest of its content under the source's
// lineage, so that comparing it with the source compares the content.
// T is -1 when the segment holds no transaction.
func (r *backupRun) v1Last(ctx context.Context, info SegmentInfo) (TxLink, error) {
	data, err := r.store.Load(ctx, r.db, info)
	if err != nil {
		return TxLink{}, segmentError(info, err)
	}
	seg, err := DecodeSegment(data, info, DecodeOptions{DB: r.db})
	if err != nil {
		return TxLink{}, err
	}
	if len(seg.Txs) == 0 {
		return NoTx, nil
	}
	return r.links.link(seg.Txs[len(seg.Txs)-1])
}

// linkBefore returns the link of the source's last transaction before t:
// the Last of a sound segment that ends at t, checked against the source,
// or else read from the source's log, going back one listed segment's
// range at a time.
func (r *backupRun) linkBefore(ctx context.Context, t int64) (TxLink, error) {
	if t == 0 {
		return NoTx, nil
	}
	segs, err := r.store.List(ctx, r.db, 0)
	if err != nil {
		return TxLink{}, fmt.Errorf("list segments: %w", err)
	}
	for _, info := range segs {
		if info.EndT != t {
			continue
		}
		s, err := checkHead(ctx, r.db, r.store, info)
		if err != nil {
			return TxLink{}, err
		}
		if s.sound() {
			var res BackupResult
			return r.continues(ctx, s, &res)
		}
	}
	return r.sourceLinkBefore(ctx, t, segs)
}

// sourceLinkBefore returns the link of the source's last transaction
// before t, read from the source's log backwards, one listed segment's
// range at a time.
func (r *backupRun) sourceLinkBefore(ctx context.Context, t int64, segs []SegmentInfo) (TxLink, error) {
	if t <= 0 {
		return NoTx, nil
	}
	starts := []int64{0}
	for _, info := range segs {
		if info.StartT < t {
			starts = append(starts, info.StartT)
		}
	}
	slices.Sort(starts)
	starts = slices.Compact(starts)
	end := t
	for i := len(starts) - 1; i >= 0; i-- {
		from := starts[i]
		if from >= end {
			continue // an end of 0 would mean no end
		}
		var last *TxLink
		for tx, err := range r.schema.userTxs(ctx, r.conn, from, end) {
			if err != nil {
				return TxLink{}, fmt.Errorf("read log [%d, %d): %w", from, end, err)
			}
			l, err := r.links.link(tx)
			if err != nil {
				return TxLink{}, err
			}
			last = &l
		}
		if last != nil {
			return *last, nil
		}
		end = from
	}
	return NoTx, nil
}
