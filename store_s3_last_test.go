package dcbackup

import (
	"context"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakePager serves findLastSegment from a sorted list of segment names,
// as ListObjectsV2 with StartAfter and MaxKeys would, and counts requests.
type fakePager struct {
	names    []string // sorted
	pageSize int
	requests int
}

func (f *fakePager) page(_ context.Context, after string) ([]SegmentInfo, bool, error) {
	// Like S3Store.listPage: pages of foreign keys only are skipped.
	i := sort.SearchStrings(f.names, after)
	for i < len(f.names) && f.names[i] <= after {
		i++
	}
	for {
		f.requests++
		end := min(i+f.pageSize, len(f.names))
		var segs []SegmentInfo
		for _, n := range f.names[i:end] {
			if seg, ok := ParseSegmentFileName(n); ok {
				segs = append(segs, seg)
			}
		}
		more := end < len(f.names)
		if len(segs) > 0 || !more {
			return segs, more, nil
		}
		i = end
	}
}

func newFakePager(segs []SegmentInfo, pageSize int) *fakePager {
	f := &fakePager{pageSize: pageSize}
	for _, s := range segs {
		f.names = append(f.names, SegmentFileName(s))
	}
	slices.Sort(f.names)
	return f
}

// lastBound is the documented worst case of S3Store.Last: 2*b+3 requests,
// b the bit length of the greatest StartT.
func lastBound(maxStart int64) int { return 2*bits.Len64(uint64(maxStart)) + 3 }

// contiguous returns n segments of span t each, starting at first.
func contiguous(first, span int64, n int) []SegmentInfo {
	out := make([]SegmentInfo, n)
	for i := range out {
		s := first + int64(i)*span
		out[i] = SegmentInfo{StartT: s, EndT: s + span}
	}
	return out
}

func TestFindLastSegmentLayouts(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 1))
	randomGaps := func(n int) []SegmentInfo {
		out := make([]SegmentInfo, n)
		t := int64(1000)
		for i := range out {
			span := 1 + r.Int64N(5000)
			out[i] = SegmentInfo{StartT: t, EndT: t + span}
			t += span
			if r.IntN(10) == 0 { // a hole
				t += r.Int64N(1 << 20)
			}
		}
		return out
	}
	sameStart := contiguous(1, 1, 2500)
	for i := range 1500 { // many segments sharing the greatest StartT
		sameStart = append(sameStart, SegmentInfo{StartT: 2501, EndT: 2502 + int64(i)})
	}
	for _, tc := range []struct {
		name     string
		segs     []SegmentInfo
		pageSize int
		maxReqs  int // expected at most, besides the general bound
	}{
		{"empty", nil, 1000, 1},
		{"one", contiguous(5, 10, 1), 1000, 1},
		{"exactly one page", contiguous(1, 100, 1000), 1000, 1},
		{"one page and one", contiguous(1, 100, 1001), 1000, 0},
		{"100k segments of 1000 t", contiguous(1, 1000, 100_000), 1000, 14},
		{"100k segments of 1 t", contiguous(1, 1, 100_000), 1000, 14},
		{"100k segments random gaps", randomGaps(100_000), 1000, 0},
		{"dense start then far outlier", append(contiguous(0, 1, 5000), SegmentInfo{StartT: 1 << 62, EndT: 1<<62 + 1}), 1000, 0},
		{"near the int64 limit", append(contiguous(1, 1, 3000), SegmentInfo{StartT: math.MaxInt64 - 1, EndT: math.MaxInt64}), 1000, 0},
		{"same start after a truncated page", sameStart, 1000, 0},
		{"500 segments page 10", randomGaps(500), 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePager(tc.segs, tc.pageSize)
			got, ok, err := findLastSegment(t.Context(), f.page)
			require.NoError(t, err)
			if len(tc.segs) == 0 {
				assert.False(t, ok)
				assert.Equal(t, 1, f.requests)
				return
			}
			require.True(t, ok)
			want, _ := ParseSegmentFileName(f.names[len(f.names)-1])
			assert.Equal(t, want, got)
			assert.LessOrEqual(t, f.requests, lastBound(want.StartT), "general bound")
			if tc.maxReqs > 0 {
				assert.LessOrEqual(t, f.requests, tc.maxReqs)
			}
			t.Logf("%d segments, page %d: %d requests (bound %d)", len(tc.segs), tc.pageSize, f.requests, lastBound(want.StartT))
		})
	}
}

// TestFindLastSegmentRandom checks the search against brute force on many
// random layouts, including foreign keys mixed into the listing.
func TestFindLastSegmentRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 300 {
		n := 1 + r.IntN(3000)
		var segs []SegmentInfo
		t0 := r.Int64N(1 << uint(1+r.IntN(40)))
		for range n {
			if t0 > 1<<60 { // keep clear of overflow
				break
			}
			span := 1 + r.Int64N(1<<uint(r.IntN(20)))
			segs = append(segs, SegmentInfo{StartT: t0, EndT: t0 + span})
			if r.IntN(4) > 0 {
				t0 += span
			}
			if r.IntN(50) == 0 {
				t0 += r.Int64N(1 << uint(r.IntN(50)))
			}
		}
		pageSize := 1 + r.IntN(1000)
		f := newFakePager(segs, pageSize)
		if r.IntN(3) == 0 { // foreign keys sorting before and after segments
			f.names = append(f.names, ".tmp-x", "README", "zzz")
			slices.Sort(f.names)
		}
		got, ok, err := findLastSegment(t.Context(), f.page)
		require.NoError(t, err)
		require.True(t, ok)
		var want SegmentInfo
		for _, n := range f.names {
			if s, ok := ParseSegmentFileName(n); ok {
				want = s
			}
		}
		require.Equal(t, want, got, "round %d (n %d, page %d)", round, n, pageSize)
		require.LessOrEqual(t, f.requests, lastBound(want.StartT), "round %d", round)
	}
}

func TestFindLastSegmentError(t *testing.T) {
	f := newFakePager(contiguous(1, 1, 5000), 100)
	calls := 0
	_, _, err := findLastSegment(t.Context(), func(ctx context.Context, after string) ([]SegmentInfo, bool, error) {
		calls++
		if calls == 3 {
			return nil, false, context.DeadlineExceeded
		}
		return f.page(ctx, after)
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
