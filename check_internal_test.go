package dcbackup

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Only segments inside which another ends need their transaction links.
func TestEnteredMidway(t *testing.T) {
	segs := []SegmentInfo{{StartT: 0, EndT: 10}, {StartT: 10, EndT: 20}, {StartT: 5, EndT: 15}, {StartT: 20, EndT: 30}, {StartT: 20, EndT: 25}}
	entered := enteredMidway(segs)
	want := map[SegmentInfo]bool{
		{StartT: 0, EndT: 10}:  false,
		{StartT: 10, EndT: 20}: true, // [5, 15) ends inside it
		{StartT: 5, EndT: 15}:  true, // [0, 10) ends inside it
		{StartT: 20, EndT: 30}: true, // [20, 25) ends inside it
		{StartT: 20, EndT: 25}: false,
	}
	for s, w := range want {
		assert.Equal(t, w, entered(s), "%v", s)
	}
}
