package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// healBrokenLinks walks the chain a restore follows through st.sound and,
// where a segment does not continue the one before it (their header
// links differ), asks the source which of the two holds its history: the
// one that does not is moved aside (Healed), for fillGaps to back its
// range up again. It runs only once the source is known to continue the
// store's newest segment, so a source of another history moves nothing;
// where the source agrees with neither side, the store is refused with
// ErrChainBroken.
func (r *backupRun) healBrokenLinks(ctx context.Context, st *storeState, res *BackupResult) error {
	for {
		prev, next, nextView, found, err := r.firstBrokenLink(ctx, st.sound)
		if err != nil || !found {
			return err
		}
		if _, err := r.continues(ctx, newest(st.sound), res); err != nil {
			return err
		}
		infos := make([]SegmentInfo, len(st.sound))
		for i, s := range st.sound {
			infos[i] = s.Info
		}
		src, err := r.sourceLinkBefore(ctx, prev.Info.EndT, infos)
		if err != nil {
			return err
		}
		var bad []scannedSegment
		if prev.Header.Last != src {
			bad = append(bad, prev)
		}
		if nextView != src {
			bad = append(bad, next)
		}
		if len(bad) == 2 {
			return &SegmentError{DB: r.db, Seg: next.Info, Err: fmt.Errorf(
				"%w: it continues from %s and the segment before it ends with %s, but the source's transaction is %s", ErrChainBroken, nextView, prev.Header.Last, src)}
		}
		for _, s := range bad {
			s.Err = fmt.Errorf("%w: it does not continue the segments next to it, and the source's history is theirs", ErrChainBroken)
			if err := r.heal(ctx, &s, res); err != nil {
				return err
			}
			st.sound = slices.DeleteFunc(st.sound, func(x scannedSegment) bool { return x.Info == s.Info })
		}
	}
}

// firstBrokenLink returns the first segment of the chain through sound
// (version 2 segments) whose view of the transaction before the point
// where a restore enters it differs from the last transaction of the
// segment before it, with that view. A segment entered midway (an
// overlap) is read for it; where it cannot be read here (no identity on a
// backup host, damage that Repair's full read finds), the segment before
// it is compared with the source instead.
func (r *backupRun) firstBrokenLink(ctx context.Context, sound []scannedSegment) (prev, next scannedSegment, view TxLink, found bool, err error) {
	infos := make([]SegmentInfo, len(sound))
	byInfo := make(map[SegmentInfo]scannedSegment, len(sound))
	for i, s := range sound {
		infos[i] = s.Info
		byInfo[s.Info] = s
	}
	var before *scannedSegment
	for pos := int64(0); ; {
		info, ok, gapEnd := nextSegment(infos, pos)
		if !ok {
			if gapEnd == 0 {
				return prev, next, view, false, nil
			}
			pos, before = gapEnd, nil
			continue
		}
		s := byInfo[info]
		if before != nil && before.Header.Version >= 2 && s.Header.Version >= 2 {
			v, known := s.Header.Prev, true
			if info.StartT < pos {
				if v, known, err = r.viewInside(ctx, info, pos); err != nil {
					return prev, next, view, false, err
				}
			}
			if !known {
				// The overlap cannot be read here: a segment before it
				// that does not end with the source's transaction is the
				// side to move aside (backed up again, it ends where the
				// overlap starts, whose own link the source checks).
				src, err := r.sourceLinkBefore(ctx, pos, infos)
				if err != nil {
					return prev, next, view, false, err
				}
				v, known = src, before.Header.Last != src
			}
			if known && v != before.Header.Last {
				return *before, s, v, true, nil
			}
		}
		before, pos = &s, info.EndT
	}
}

// viewInside reads segment info and returns its view of the source
// transaction before pos; known is false when it cannot be read here.
func (r *backupRun) viewInside(ctx context.Context, info SegmentInfo, pos int64) (TxLink, bool, error) {
	dec, err := NewSegmentDecoder(withDB(r.opts.Decode, r.db))
	if err != nil {
		return TxLink{}, false, err
	}
	defer dec.Close()
	data, err := r.store.Load(ctx, r.db, info)
	switch {
	case errors.Is(err, ErrSegmentNotFound), errors.Is(err, ErrCorruptSegment), errors.Is(err, ErrSegmentTooLarge):
		return TxLink{}, false, nil // gone meanwhile, or for Repair's full read to find
	case err != nil:
		return TxLink{}, false, segmentError(info, err)
	}
	seg, err := dec.Decode(data, info)
	if err != nil {
		return TxLink{}, false, nil // no key here, or for Repair's full read to find
	}
	v, err := viewBefore(r.db, seg, pos)
	return v, err == nil, err
}
