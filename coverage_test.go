package dcbackup

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func segs(r ...int64) []SegmentInfo {
	var out []SegmentInfo
	for i := 0; i+1 < len(r); i += 2 {
		out = append(out, SegmentInfo{StartT: r[i], EndT: r[i+1]})
	}
	return out
}

func TestFindGaps(t *testing.T) {
	assert.Empty(t, findGaps(segs(0, 10, 10, 20), 0))
	assert.Equal(t, []Gap{{10, 15}}, findGaps(segs(0, 10, 15, 20), 0))
	assert.Equal(t, []Gap{{0, 5}, {20, 30}}, findGaps(segs(5, 10, 10, 20), 30))
	// Overlaps left by racing writers are covered, not gaps.
	assert.Empty(t, findGaps(segs(0, 10, 5, 12, 5, 15, 15, 20), 0))
	assert.Equal(t, []Gap{{0, 7}}, findGaps(nil, 7))
	assert.Empty(t, findGaps(nil, 0))
}

func TestNextSegment(t *testing.T) {
	s := segs(0, 10, 5, 12, 5, 15, 15, 20, 25, 30)
	got, ok, _ := nextSegment(s, 0)
	assert.True(t, ok)
	assert.Equal(t, SegmentInfo{StartT: 0, EndT: 10}, got)
	got, ok, _ = nextSegment(s, 10)
	assert.True(t, ok)
	assert.Equal(t, SegmentInfo{StartT: 5, EndT: 15}, got, "the segment reaching furthest wins")
	got, ok, _ = nextSegment(s, 15)
	assert.True(t, ok)
	assert.Equal(t, SegmentInfo{StartT: 15, EndT: 20}, got)
	_, ok, gapEnd := nextSegment(s, 20)
	assert.False(t, ok)
	assert.Equal(t, int64(25), gapEnd)
	_, ok, gapEnd = nextSegment(s, 30)
	assert.False(t, ok)
	assert.Zero(t, gapEnd, "past the last segment is not a gap")
}

func TestSplitRanges(t *testing.T) {
	got := splitRanges([]Gap{{0, 100}, {200, 210}}, 4, 1)
	var total int64
	for i, g := range got {
		assert.Less(t, g.StartT, g.EndT)
		if i > 0 && got[i-1].EndT != g.StartT {
			assert.Equal(t, int64(200), g.StartT)
		}
		total += g.EndT - g.StartT
	}
	assert.Equal(t, int64(110), total)
	assert.Equal(t, []Gap{{0, 1}, {1, 2}}, splitRanges([]Gap{{0, 2}}, 10, 1))
	assert.Equal(t, []Gap{{0, 50}, {50, 60}}, splitRanges([]Gap{{0, 60}}, 10, 50))
}

func TestIDCacheBounded(t *testing.T) {
	c := newIDCache[int64](100)
	for i := int64(0); i < 1000; i++ {
		c.put(i, i*2)
	}
	assert.LessOrEqual(t, len(c.young)+len(c.old), 100)
	v, ok := c.get(999)
	assert.True(t, ok)
	assert.Equal(t, int64(1998), v)
	_, ok = c.get(0)
	assert.False(t, ok)
}
