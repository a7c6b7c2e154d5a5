package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

// countingStore records how many loads run at once.
type countingStore struct {
	dcbackup.BackupStore
	running, peak atomic.Int32
	loads         atomic.Int32
}

func (s *countingStore) Load(ctx context.Context, db string, seg dcbackup.SegmentInfo) ([]byte, error) {
	n := s.running.Add(1)
	defer s.running.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	s.loads.Add(1)
	return s.BackupStore.Load(ctx, db, seg)
}

func manySegments(t *testing.T) (*countingStore, []dcbackup.SegmentInfo) {
	t.Helper()
	mem := dcbackup.NewMemStore()
	backUp(t, mem, "db", 13, 120, 2)
	segs, err := mem.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 40)
	return &countingStore{BackupStore: mem}, segs
}

func startT(s *dcbackup.Segment) int64 { return s.StartT }

func TestScanSegmentsInOrder(t *testing.T) {
	st, segs := manySegments(t)
	for _, jobs := range []int{1, 3, 8} {
		st.peak.Store(0)
		var got []int64
		err := scanSegments(t.Context(), st, "db", segs, jobs, dcbackup.DecodeOptions{}, startT, func(r scanned[int64]) error {
			require.NoError(t, r.loadErr)
			require.NoError(t, r.decodeErr)
			assert.Equal(t, r.info.StartT, r.res)
			assert.Equal(t, int(r.info.Size), r.size)
			got = append(got, r.res)
			return nil
		})
		require.NoError(t, err)
		require.Len(t, got, len(segs))
		for i, s := range segs {
			assert.Equal(t, s.StartT, got[i])
		}
		assert.LessOrEqual(t, st.peak.Load(), int32(jobs), "no more than -j loads at once")
	}
}

func TestScanSegmentsStopsOnEmitError(t *testing.T) {
	st, segs := manySegments(t)
	stop := errors.New("stop")
	calls := 0
	err := scanSegments(t.Context(), st, "db", segs, 4, dcbackup.DecodeOptions{}, startT, func(scanned[int64]) error {
		calls++
		if calls == 5 {
			return stop
		}
		return nil
	})
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 5, calls)
	assert.Less(t, int(st.loads.Load()), len(segs), "the scan stopped early")
}

func TestScanSegmentsCanceled(t *testing.T) {
	st, segs := manySegments(t)
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := scanSegments(ctx, st, "db", segs, 4, dcbackup.DecodeOptions{}, startT, func(scanned[int64]) error {
		calls++
		if calls == 3 {
			cancel()
		}
		return nil
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 3, calls)
}

func TestScanSegmentsReportsBadSegments(t *testing.T) {
	st, segs := manySegments(t)
	segs = append([]dcbackup.SegmentInfo{}, segs[:4]...)
	segs[2] = dcbackup.SegmentInfo{StartT: segs[2].StartT, EndT: segs[2].EndT + 1} // not stored
	var got []scanned[int64]
	require.NoError(t, scanSegments(t.Context(), st, "db", segs, 2, dcbackup.DecodeOptions{}, startT, func(r scanned[int64]) error {
		got = append(got, r)
		return nil
	}))
	require.Len(t, got, 4)
	assert.ErrorIs(t, got[2].loadErr, dcbackup.ErrSegmentNotFound)
	for _, i := range []int{0, 1, 3} {
		assert.NoError(t, got[i].loadErr)
	}
}
