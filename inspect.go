package dcbackup

import "slices"

// CoverageGaps returns the ranges of source t in [0, end of the last
// segment) that none of segs covers, in t order. segs may come in any
// order (it is not modified); overlapping segments, which racing writers
// can leave behind, are fine: coverage is their union. A healthy store has
// no gaps. CoverageGaps is what Gaps computes, for callers that already
// hold a listing.
func CoverageGaps(segs []SegmentInfo) []Gap {
	if !slices.IsSortedFunc(segs, compareSegmentInfo) {
		segs = slices.Clone(segs)
		slices.SortFunc(segs, compareSegmentInfo)
	}
	return findGaps(segs, 0)
}
