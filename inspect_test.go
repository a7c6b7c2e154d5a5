package dcbackup_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcbackup/dcbackup"
)

func TestCoverageGaps(t *testing.T) {
	s := func(start, end int64) dcbackup.SegmentInfo { return dcbackup.SegmentInfo{StartT: start, EndT: end} }
	g := func(start, end int64) dcbackup.Gap { return dcbackup.Gap{StartT: start, EndT: end} }
	for _, tc := range []struct {
		name string
		segs []dcbackup.SegmentInfo
		want []dcbackup.Gap
	}{
		{"empty", nil, nil},
		{"contiguous", []dcbackup.SegmentInfo{s(0, 10), s(10, 20), s(20, 25)}, nil},
		{"missing start", []dcbackup.SegmentInfo{s(5, 10), s(10, 20)}, []dcbackup.Gap{g(0, 5)}},
		{"hole", []dcbackup.SegmentInfo{s(0, 10), s(20, 30)}, []dcbackup.Gap{g(10, 20)}},
		{"overlaps are fine", []dcbackup.SegmentInfo{s(0, 10), s(5, 15), s(10, 20), s(12, 14)}, nil},
		{"unsorted", []dcbackup.SegmentInfo{s(20, 30), s(0, 10), s(40, 50)}, []dcbackup.Gap{g(10, 20), g(30, 40)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]dcbackup.SegmentInfo(nil), tc.segs...)
			assert.Equal(t, tc.want, dcbackup.CoverageGaps(tc.segs))
			assert.Equal(t, before, tc.segs, "the input is not modified")
		})
	}
}
