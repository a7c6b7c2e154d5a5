package dcbackup_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

// gate holds each read until want reads are in flight at once, and
// records the most it saw: a reader that waits for one read before it
// starts the next never opens it. The first wait that reaches the deadline
// opens it for good, so that such a reader fails in one deadline, not one
// per read.
type gate struct {
	want     int
	deadline time.Duration

	mu             sync.Mutex
	inFlight, peak int
	open           chan struct{}
	once           sync.Once
}

func newGate(want int) *gate {
	return &gate{want: want, deadline: 3 * time.Second, open: make(chan struct{})}
}

func (g *gate) enter(ctx context.Context) {
	g.mu.Lock()
	g.inFlight++
	g.peak = max(g.peak, g.inFlight)
	if g.inFlight >= g.want {
		g.once.Do(func() { close(g.open) })
	}
	g.mu.Unlock()
	timer := time.NewTimer(g.deadline)
	defer timer.Stop()
	select {
	case <-g.open:
	case <-ctx.Done():
	case <-timer.C:
		g.once.Do(func() { close(g.open) })
	}
}

func (g *gate) leave() {
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
}

func (g *gate) maxInFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

// gatedStore passes Loads and LoadHeads of a MemStore through a gate each.
type gatedStore struct {
	*dcbackup.MemStore
	loads, heads *gate
}

func (s *gatedStore) Load(ctx context.Context, db string, seg dcbackup.SegmentInfo) ([]byte, error) {
	s.loads.enter(ctx)
	defer s.loads.leave()
	return s.MemStore.Load(ctx, db, seg)
}

func (s *gatedStore) LoadHead(ctx context.Context, db string, seg dcbackup.SegmentInfo, n int) ([]byte, error) {
	s.heads.enter(ctx)
	defer s.heads.leave()
	return s.MemStore.LoadHead(ctx, db, seg, n)
}

// Small segments (such as the one-transaction segments of BackupNext every
// minute) are fetched up to four times Prefetch at once: a restore from an
// object store waits one latency per 32 of them, not per 8.
func TestRestoreFetchesSmallSegmentsInAWideWindow(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 150, 80, false)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 40)

	gs := &gatedStore{MemStore: store, loads: newGate(32), heads: newGate(32)}
	target := newTarget()
	res, err := dcbackup.Restore(ctx, "db", gs, target, nil)
	require.NoError(t, err)
	assert.Equal(t, len(segs), res.Segments)
	assert.Equal(t, 32, gs.heads.maxInFlight(), "segment headers read at once")
	assert.Equal(t, 32, gs.loads.maxInFlight(), "segments loaded at once")
	requireVerified(t, src, target)

	// Prefetch scales the window: 4 x 2.
	gs = &gatedStore{MemStore: store, loads: newGate(8), heads: newGate(8)}
	target = newTarget()
	_, err = dcbackup.Restore(ctx, "db", gs, target, &dcbackup.RestoreOptions{Prefetch: 2})
	require.NoError(t, err)
	assert.Equal(t, 8, gs.loads.maxInFlight())
	requireVerified(t, src, target)
}

// Compact loads the segments of a run several at once (an object store's
// latency, paid per segment, would otherwise add up over thousands of
// small segments), and merges them in order.
func TestCompactLoadsSegmentsConcurrently(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 151, 60, false)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})

	gs := &gatedStore{MemStore: store, loads: newGate(8), heads: newGate(8)}
	res, err := dcbackup.Compact(ctx, "db", gs, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.After)
	assert.Equal(t, 8, gs.loads.maxInFlight(), "segments of a run loaded at once")
	requireRestoresIdentically(t, store, src)
}

// cancellingStore cancels the context once the first `after` Loads
// have all succeeded and are in flight together, as a caller giving up
// between two reads does. Its writes ignore the cancellation (a store need
// not check the context once a write has started).
type cancellingStore struct {
	*dcbackup.MemStore
	cancel func()
	after  *gate
	loads  atomic.Int64
}

func (s *cancellingStore) Load(ctx context.Context, db string, seg dcbackup.SegmentInfo) ([]byte, error) {
	data, err := s.MemStore.Load(ctx, db, seg)
	if s.loads.Add(1) <= int64(s.after.want) {
		s.after.enter(context.Background())
		s.cancel()
		s.after.leave()
	}
	return data, err
}

func (s *cancellingStore) Save(ctx context.Context, db string, seg dcbackup.SegmentInfo, data []byte) error {
	return s.MemStore.Save(context.WithoutCancel(ctx), db, seg, data)
}

func (s *cancellingStore) Delete(ctx context.Context, db string, seg dcbackup.SegmentInfo) error {
	return s.MemStore.Delete(context.WithoutCancel(ctx), db, seg)
}

// A compaction whose context ends while it loads a run writes and deletes
// nothing: a merged segment is never made of part of its inputs, even
// where the store would still write it. (Where the fetch stops, before or
// after handing out the next load, is up to the scheduler: several
// rounds.)
func TestCompactCancelledWhileLoadingKeepsEverything(t *testing.T) {
	src := newSource(t, 152, 40, false)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
	before, err := store.List(testCtx(t), "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(before), 16)

	for round := range 8 {
		work := copySegments(t, store, "db", nil)
		ctx, cancel := context.WithCancel(testCtx(t))
		cs := &cancellingStore{MemStore: work, cancel: cancel, after: newGate(8)}
		_, err = dcbackup.Compact(ctx, "db", cs, nil)
		cancel()
		require.ErrorIs(t, err, context.Canceled, "round %d", round)
		after, err := work.List(testCtx(t), "db", 0)
		require.NoError(t, err)
		require.Equal(t, before, after, "round %d", round)
	}
}
