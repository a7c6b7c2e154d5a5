package dcbackup

import "sort"

// Gap is a half-open range of source t that no segment covers.
type Gap struct {
	StartT int64
	EndT   int64
}

// coveredEnd walks segs (sorted by StartT) from t = from and returns the end
// of the contiguous coverage that starts there, and the index of the first
// segment that could not extend it. Overlapping segments (left by racing
// writers) are fine: coverage is their union.
func coveredEnd(segs []SegmentInfo, from int64) int64 {
	end := from
	for _, s := range segs {
		if s.StartT > end {
			break
		}
		if s.EndT > end {
			end = s.EndT
		}
	}
	return end
}

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

func sortSegments(segs []SegmentInfo) {
	sort.Slice(segs, func(i, j int) bool {
		if segs[i].StartT != segs[j].StartT {
			return segs[i].StartT < segs[j].StartT
		}
		return segs[i].EndT < segs[j].EndT
	})
}
