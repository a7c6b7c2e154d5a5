// Package storetest is the contract test suite that every
// dcbackup.BackupStore implementation must pass. A store's test calls Run
// with a constructor that returns a fresh, empty store for each subtest.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

// Options tunes Run for stores with slow or limited backends. The zero
// value runs everything at full size.
type Options struct {
	// LargeSize is the size of the segment in the large round trip
	// (default 20 MiB).
	LargeSize int
	// Racers is the number of concurrent writers racing for one segment
	// (default 16).
	Racers int
}

// Run runs the contract suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) dcbackup.BackupStore) {
	t.Helper()
	RunWithOptions(t, newStore, Options{})
}

// RunWithOptions is Run with options.
func RunWithOptions(t *testing.T, newStore func(t *testing.T) dcbackup.BackupStore, opts Options) {
	t.Helper()
	if opts.LargeSize <= 0 {
		opts.LargeSize = 20 << 20
	}
	if opts.Racers <= 0 {
		opts.Racers = 16
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s dcbackup.BackupStore)
	}{
		{"RoundTrip", testRoundTrip},
		{"EmptyData", testEmptyData},
		{"BuffersNotShared", testBuffersNotShared},
		{"NeverOverwrite", testNeverOverwrite},
		{"NotFound", testNotFound},
		{"ListSortedFrom", testListSortedFrom},
		{"Last", testLast},
		{"EmptyDatabase", testEmptyDatabase},
		{"DatabasesApart", testDatabasesApart},
		{"ConcurrentWritersOneSegment", func(t *testing.T, s dcbackup.BackupStore) { testRace(t, s, opts.Racers) }},
		{"ConcurrentWritersManySegments", testConcurrentMany},
		{"LargeSegment", func(t *testing.T, s dcbackup.BackupStore) { testLarge(t, s, opts.LargeSize) }},
		{"ContextCanceled", testContextCanceled},
		{"InvalidDBNames", testInvalidDBNames},
		{"ValidDBNames", testValidDBNames},
		{"InvalidRanges", testInvalidRanges},
		{"LoadHead", testLoadHead},
		{"QuarantineAndDelete", testQuarantineAndDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func seg(start, end int64) dcbackup.SegmentInfo {
	return dcbackup.SegmentInfo{StartT: start, EndT: end}
}

func payload(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// ranges strips sizes so that lists compare by range only, after checking
// that every size is either unknown (0) or the stored length.
func ranges(t *testing.T, segs []dcbackup.SegmentInfo, sizes map[[2]int64]int) []dcbackup.SegmentInfo {
	t.Helper()
	out := make([]dcbackup.SegmentInfo, len(segs))
	for i, s := range segs {
		if want, ok := sizes[[2]int64{s.StartT, s.EndT}]; ok && s.Size != 0 {
			assert.EqualValues(t, want, s.Size, "size of segment %s", s)
		}
		out[i] = seg(s.StartT, s.EndT)
	}
	return out
}

func testRoundTrip(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	data := payload(1, 4096)
	require.NoError(t, s.Save(ctx, "db1", seg(1, 100), data))
	got, err := s.Load(ctx, "db1", seg(1, 100))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	// Load ignores Size.
	got, err = s.Load(ctx, "db1", dcbackup.SegmentInfo{StartT: 1, EndT: 100, Size: 12345})
	require.NoError(t, err)
	assert.Equal(t, data, got)
	list, err := s.List(ctx, "db1", 0)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, seg(1, 100), ranges(t, list, map[[2]int64]int{{1, 100}: len(data)})[0])
}

func testEmptyData(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	require.NoError(t, s.Save(ctx, "db1", seg(5, 6), nil))
	got, err := s.Load(ctx, "db1", seg(5, 6))
	require.NoError(t, err)
	assert.Empty(t, got)
}

func testBuffersNotShared(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	data := payload(2, 100)
	orig := bytes.Clone(data)
	require.NoError(t, s.Save(ctx, "db1", seg(1, 2), data))
	data[0] ^= 0xff
	got, err := s.Load(ctx, "db1", seg(1, 2))
	require.NoError(t, err)
	assert.Equal(t, orig, got, "store must not keep the caller's buffer")
	got[1] ^= 0xff
	again, err := s.Load(ctx, "db1", seg(1, 2))
	require.NoError(t, err)
	assert.Equal(t, orig, again, "store must not hand out its own buffer")
}

func testNeverOverwrite(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	first := payload(3, 1000)
	require.NoError(t, s.Save(ctx, "db1", seg(10, 20), first))
	err := s.Save(ctx, "db1", seg(10, 20), payload(4, 2000))
	require.ErrorIs(t, err, dcbackup.ErrSegmentExists)
	err = s.Save(ctx, "db1", seg(10, 20), first)
	require.ErrorIs(t, err, dcbackup.ErrSegmentExists, "even identical bytes are not rewritten")
	got, err := s.Load(ctx, "db1", seg(10, 20))
	require.NoError(t, err)
	assert.Equal(t, first, got)
	// Overlapping but different ranges are distinct segments.
	require.NoError(t, s.Save(ctx, "db1", seg(10, 21), payload(5, 10)))
	list, err := s.List(ctx, "db1", 0)
	require.NoError(t, err)
	assert.Equal(t, []dcbackup.SegmentInfo{seg(10, 20), seg(10, 21)}, ranges(t, list, nil))
}

func testNotFound(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	_, err := s.Load(ctx, "db1", seg(1, 2))
	require.ErrorIs(t, err, dcbackup.ErrSegmentNotFound)
	require.NoError(t, s.Save(ctx, "db1", seg(1, 2), []byte("x")))
	_, err = s.Load(ctx, "db1", seg(1, 3))
	require.ErrorIs(t, err, dcbackup.ErrSegmentNotFound)
	_, err = s.Load(ctx, "db1", seg(0, 2))
	require.ErrorIs(t, err, dcbackup.ErrSegmentNotFound)
	_, err = s.Load(ctx, "db2", seg(1, 2))
	require.ErrorIs(t, err, dcbackup.ErrSegmentNotFound)
}

func testListSortedFrom(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	// Saved out of order, with values whose decimal text sorts differently
	// from their numeric order, and t values near the int64 limit.
	all := []dcbackup.SegmentInfo{
		seg(0, 1), seg(1, 9), seg(9, 10), seg(10, 100), seg(100, 1000),
		seg(1000, 1<<40), seg(1<<40, 1<<62), seg(1<<62, 1<<63-1),
	}
	sizes := map[[2]int64]int{}
	perm := rand.New(rand.NewPCG(9, 9)).Perm(len(all))
	for i, p := range perm {
		sg := all[p]
		sizes[[2]int64{sg.StartT, sg.EndT}] = 10 + i
		require.NoError(t, s.Save(ctx, "db1", sg, payload(uint64(i), 10+i)))
	}
	list, err := s.List(ctx, "db1", 0)
	require.NoError(t, err)
	assert.Equal(t, all, ranges(t, list, sizes))

	for _, tc := range []struct {
		from int64
		want []dcbackup.SegmentInfo
	}{
		{-5, all},
		{1, all[1:]},
		{2, all[2:]},
		{10, all[3:]},
		{11, all[4:]},
		{1 << 40, all[6:]},
		{1<<62 + 1, nil},
		{1<<63 - 1, nil},
	} {
		list, err := s.List(ctx, "db1", tc.from)
		require.NoError(t, err, "from %d", tc.from)
		assert.Equal(t, tc.want, emptyToNil(ranges(t, list, sizes)), "from %d", tc.from)
	}
}

func emptyToNil(s []dcbackup.SegmentInfo) []dcbackup.SegmentInfo {
	if len(s) == 0 {
		return nil
	}
	return s
}

func testLast(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	_, ok, err := s.Last(ctx, "db1")
	require.NoError(t, err)
	assert.False(t, ok)
	data := payload(6, 33)
	for _, sg := range []dcbackup.SegmentInfo{seg(9, 10), seg(100, 200), seg(10, 100)} {
		require.NoError(t, s.Save(ctx, "db1", sg, data))
	}
	last, ok, err := s.Last(ctx, "db1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, seg(100, 200), seg(last.StartT, last.EndT))
	if last.Size != 0 {
		assert.EqualValues(t, len(data), last.Size)
	}
	require.NoError(t, s.Save(ctx, "db1", seg(200, 201), data))
	last, ok, err = s.Last(ctx, "db1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, seg(200, 201), seg(last.StartT, last.EndT))
}

func testEmptyDatabase(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	list, err := s.List(ctx, "nothing-here", 0)
	require.NoError(t, err)
	assert.Empty(t, list)
	_, ok, err := s.Last(ctx, "nothing-here")
	require.NoError(t, err)
	assert.False(t, ok)
}

func testDatabasesApart(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	// Names that are prefixes of each other must not leak into each other's
	// listings (a classic trap for key-prefix stores).
	names := []string{"a", "ab", "a.b", "a-b", "A", "mbrainz", "mbrainz2"}
	for i, db := range names {
		require.NoError(t, s.Save(ctx, db, seg(1, 10), []byte(db)))
		require.NoError(t, s.Save(ctx, db, seg(10, int64(20+i)), []byte(db+"!")))
	}
	for i, db := range names {
		got, err := s.Load(ctx, db, seg(1, 10))
		require.NoError(t, err)
		assert.Equal(t, []byte(db), got)
		list, err := s.List(ctx, db, 0)
		require.NoError(t, err)
		assert.Equal(t, []dcbackup.SegmentInfo{seg(1, 10), seg(10, int64(20+i))}, ranges(t, list, nil), "db %s", db)
		last, ok, err := s.Last(ctx, db)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, seg(10, int64(20+i)), seg(last.StartT, last.EndT), "db %s", db)
	}
}

func testRace(t *testing.T, s dcbackup.BackupStore, n int) {
	ctx := t.Context()
	for round := range 5 {
		sg := seg(int64(1000*round+1), int64(1000*round+1000))
		datas := make([][]byte, n)
		for i := range datas {
			datas[i] = payload(uint64(100*round+i), 64<<10+i)
		}
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.Save(ctx, "race", sg, datas[i])
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "round %d: two writers won (%d and %d)", round, winner, i)
				winner = i
				continue
			}
			require.ErrorIs(t, err, dcbackup.ErrSegmentExists, "round %d writer %d", round, i)
		}
		require.NotEqual(t, -1, winner, "round %d: no writer won", round)
		got, err := s.Load(ctx, "race", sg)
		require.NoError(t, err)
		require.True(t, bytes.Equal(datas[winner], got), "round %d: stored bytes are not the winner's", round)
	}
	list, err := s.List(ctx, "race", 0)
	require.NoError(t, err)
	assert.Len(t, list, 5)
}

func testConcurrentMany(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				n := int64(w*each + i)
				if err := s.Save(ctx, "many", seg(10*n+1, 10*n+11), []byte(fmt.Sprint(n))); err != nil {
					errs <- err
				}
			}
		})
	}
	// Readers list while writers write; every listing must be sorted and
	// every listed segment loadable in full.
	for range 4 {
		wg.Go(func() {
			for range 5 {
				list, err := s.List(ctx, "many", 0)
				if err != nil {
					errs <- err
					return
				}
				for i, sg := range list {
					if i > 0 && list[i-1].StartT >= sg.StartT {
						errs <- fmt.Errorf("listing not sorted at %d: %v", i, list)
						return
					}
					data, err := s.Load(ctx, "many", sg)
					if err != nil {
						errs <- err
						return
					}
					if want := fmt.Sprint((sg.StartT - 1) / 10); string(data) != want {
						errs <- fmt.Errorf("segment %s holds %q, want %q", sg, data, want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	list, err := s.List(ctx, "many", 0)
	require.NoError(t, err)
	require.Len(t, list, writers*each)
	for i, sg := range list {
		assert.Equal(t, seg(10*int64(i)+1, 10*int64(i)+11), seg(sg.StartT, sg.EndT))
	}
}

func testLarge(t *testing.T, s dcbackup.BackupStore, size int) {
	ctx := t.Context()
	data := payload(77, size)
	require.NoError(t, s.Save(ctx, "big", seg(1, 1<<40), data))
	got, err := s.Load(ctx, "big", seg(1, 1<<40))
	require.NoError(t, err)
	require.Equal(t, len(data), len(got))
	require.True(t, bytes.Equal(data, got), "large segment differs after round trip")
	last, ok, err := s.Last(ctx, "big")
	require.NoError(t, err)
	require.True(t, ok)
	if last.Size != 0 {
		assert.EqualValues(t, size, last.Size)
	}
}

func testContextCanceled(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	require.NoError(t, s.Save(ctx, "db1", seg(1, 2), []byte("kept")))
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	err := s.Save(canceled, "db1", seg(2, 3), []byte("never"))
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Load(canceled, "db1", seg(1, 2))
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.List(canceled, "db1", 0)
	require.ErrorIs(t, err, context.Canceled)
	_, _, err = s.Last(canceled, "db1")
	require.ErrorIs(t, err, context.Canceled)
	// A canceled save stored nothing.
	_, err = s.Load(ctx, "db1", seg(2, 3))
	require.ErrorIs(t, err, dcbackup.ErrSegmentNotFound)
	list, err := s.List(ctx, "db1", 0)
	require.NoError(t, err)
	assert.Equal(t, []dcbackup.SegmentInfo{seg(1, 2)}, ranges(t, list, nil))
}

// InvalidDBNames are database names every store must refuse with
// dcbackup.ErrInvalidDBName.
var InvalidDBNames = []string{
	"", ".", "..", "../x", "a/b", "/abs", `a\b`, "a\x00b", ".hidden", "-x", "_x",
	"sp ace", "new\nline", "ünïcode", "a:b", "a*b", "a?b", "a%2fb",
	string(bytes.Repeat([]byte("n"), dcbackup.MaxDBNameLen+1)),
}

func testInvalidDBNames(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	for _, db := range InvalidDBNames {
		err := s.Save(ctx, db, seg(1, 2), []byte("x"))
		require.ErrorIs(t, err, dcbackup.ErrInvalidDBName, "save %q", db)
		_, err = s.Load(ctx, db, seg(1, 2))
		require.ErrorIs(t, err, dcbackup.ErrInvalidDBName, "load %q", db)
		_, err = s.List(ctx, db, 0)
		require.ErrorIs(t, err, dcbackup.ErrInvalidDBName, "list %q", db)
		_, _, err = s.Last(ctx, db)
		require.ErrorIs(t, err, dcbackup.ErrInvalidDBName, "last %q", db)
	}
}

func testValidDBNames(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	for _, db := range []string{"x", "X", "0", "mbrainz-1968-1973", "my_db.v2", string(bytes.Repeat([]byte("n"), dcbackup.MaxDBNameLen))} {
		require.NoError(t, s.Save(ctx, db, seg(1, 2), []byte(db)), "save %q", db)
		got, err := s.Load(ctx, db, seg(1, 2))
		require.NoError(t, err)
		assert.Equal(t, []byte(db), got)
	}
}

func testInvalidRanges(t *testing.T, s dcbackup.BackupStore) {
	ctx := t.Context()
	for _, sg := range []dcbackup.SegmentInfo{seg(5, 5), seg(6, 5), seg(-1, 5), seg(-10, -5)} {
		err := s.Save(ctx, "db1", sg, []byte("x"))
		require.ErrorIs(t, err, dcbackup.ErrInvalidSegmentRange, "save %s", sg)
		_, err = s.Load(ctx, "db1", sg)
		require.Error(t, err, "load %s", sg)
		require.False(t, errors.Is(err, dcbackup.ErrSegmentExists))
	}
	list, err := s.List(ctx, "db1", -100)
	require.NoError(t, err)
	assert.Empty(t, list)
}
