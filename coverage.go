package dcbackup

import (
	"cmp"
	"fmt"
	"sort"
)

// Gap is a half-open range of source t that no segment covers.
type Gap struct {
	StartT int64
	EndT   int64
}

// String formats the gap as the range [StartT, EndT).
func (g Gap) String() string { return fmt.Sprintf("[%d, %d)", g.StartT, g.EndT) }

// findGaps returns the ranges in [0, upTo) not covered by segs (sorted by
// StartT). When upTo is 0 the end of the last segment is used.
func findGaps(segs []SegmentInfo, upTo int64) []Gap {
	if upTo <= 0 {
		for _, s := range segs {
			upTo = max(upTo, s.EndT)
		}
	}
	var gaps []Gap
	pos := int64(0)
	for _, s := range segs {
		if pos >= upTo {
			break
		}
		if s.StartT > pos {
			gaps = append(gaps, Gap{StartT: pos, EndT: min(s.StartT, upTo)})
		}
		pos = max(pos, s.EndT)
	}
	if pos < upTo {
		gaps = append(gaps, Gap{StartT: pos, EndT: upTo})
	}
	return gaps
}

// nextSegment picks the segment that continues a restore at source t pos:
// among the segments that contain pos, the one reaching furthest. ok is
// false when none contains pos; then gapEnd is the StartT of the first
// segment after pos (0 if there is none).
func nextSegment(segs []SegmentInfo, pos int64) (seg SegmentInfo, ok bool, gapEnd int64) {
	// segs is sorted by StartT; only those starting at or before pos qualify.
	n := sort.Search(len(segs), func(i int) bool { return segs[i].StartT > pos })
	for _, s := range segs[:n] {
		if s.EndT > pos && (!ok || s.EndT > seg.EndT) {
			seg, ok = s, true
		}
	}
	if !ok && n < len(segs) {
		gapEnd = segs[n].StartT
	}
	return seg, ok, gapEnd
}

// compareSegmentInfo orders segments by StartT, then EndT: the order of a
// store listing.
func compareSegmentInfo(a, b SegmentInfo) int {
	if c := cmp.Compare(a.StartT, b.StartT); c != 0 {
		return c
	}
	return cmp.Compare(a.EndT, b.EndT)
}
