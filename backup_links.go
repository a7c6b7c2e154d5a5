package dcbackup

import (
	"context"
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
		prev, next, found := firstBrokenLink(st.sound)
		if !found {
			return nil
		}
		if _, err := r.continues(ctx, newest(st.sound), res); err != nil {
			return err
		}
		infos := make([]SegmentInfo, len(st.sound))
		for i, s := range st.sound {
			infos[i] = s.Info
		}
		src, err := r.sourceLinkBefore(ctx, next.Info.StartT, infos)
		if err != nil {
			return err
		}
		var bad []scannedSegment
		if prev.Header.Last != src {
			bad = append(bad, prev)
		}
		if next.Header.Prev != src {
			bad = append(bad, next)
		}
		if len(bad) == 2 {
			return &SegmentError{DB: r.db, Seg: next.Info, Err: fmt.Errorf(
				"%w: it continues from %s and the segment before it ends with %s, but the source's transaction is %s", ErrChainBroken, next.Header.Prev, prev.Header.Last, src)}
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

// firstBrokenLink returns the first two touching segments of the chain
// through sound whose header links differ (version 2 segments only).
func firstBrokenLink(sound []scannedSegment) (prev, next scannedSegment, found bool) {
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
				return prev, next, false
			}
			pos, before = gapEnd, nil
			continue
		}
		s := byInfo[info]
		if before != nil && before.Info.EndT == info.StartT && before.Header.Version >= 2 && s.Header.Version >= 2 && before.Header.Last != s.Header.Prev {
			return *before, s, true
		}
		before, pos = &s, info.EndT
	}
}
