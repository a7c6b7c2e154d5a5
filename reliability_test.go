package dcbackup_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/histgen"
	"github.com/stretchr/testify/require"
)

// requireExactCover checks that the store's segments tile [0, end) with no
// gap and no overlap.
func requireExactCover(t *testing.T, store dcbackup.BackupStore, end int64) {
	t.Helper()
	segs, err := store.List(context.Background(), "db", 0)
	require.NoError(t, err)
	pos := int64(0)
	for _, s := range segs {
		require.Equal(t, pos, s.StartT, "segments must touch: %v", segs)
		pos = s.EndT
	}
	require.Equal(t, end, pos)
}

// saveFailingStore fails the n-th Save (counting from 1) and every Save
// after it when sticky.
type saveFailingStore struct {
	dcbackup.BackupStore
	n      int64
	calls  atomic.Int64
	sticky bool
}

var errDiskFull = errors.New("disk full")

func (s *saveFailingStore) Save(ctx context.Context, db string, seg dcbackup.SegmentInfo, data []byte) error {
	c := s.calls.Add(1)
	if c == s.n || (s.sticky && c > s.n) {
		return errDiskFull
	}
	return s.BackupStore.Save(ctx, db, seg, data)
}

// TestBackupResumesAfterFailureAnywhere fails a parallel backup at every
// segment write and reruns it: the store always ends with every t covered
// exactly once, and the restore is identical to the source.
func TestBackupResumesAfterFailureAnywhere(t *testing.T) {
	ctx := context.Background()
	src := newSource(t, 31, 60, true)
	end := basisT(t, src) + 1
	full := dcbackup.NewMemStore()
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 4, Concurrency: 3}
	total, err := dcbackup.Backup(ctx, "db", src, full, opts)
	require.NoError(t, err)
	require.Greater(t, total.Segments, 5)
	for n := int64(1); n <= int64(total.Segments); n++ {
		store := dcbackup.NewMemStore()
		failing := &saveFailingStore{BackupStore: store, n: n, sticky: n%2 == 0}
		res, err := dcbackup.Backup(ctx, "db", src, failing, opts)
		require.ErrorIs(t, err, errDiskFull, "failure at write %d reported", n)
		segs, lerr := store.List(ctx, "db", 0)
		require.NoError(t, lerr)
		require.Equal(t, len(segs), res.Segments, "the result counts exactly the segments stored")
		res2, err := dcbackup.Backup(ctx, "db", src, store, opts)
		require.NoError(t, err)
		require.Equal(t, total.Transactions, res.Transactions+res2.Transactions, "rerun after write %d", n)
		requireExactCover(t, store, end)
	}
	target := newTarget()
	_, err = dcbackup.Restore(ctx, "db", full, target, nil)
	require.NoError(t, err)
	requireVerified(t, src, target)
}

// TestBackupNextResumesAfterFailure: a failed BackupNext writes nothing and
// the next call picks up where the store ends.
func TestBackupNextResumesAfterFailure(t *testing.T) {
	ctx := context.Background()
	src := newSource(t, 32, 40, false)
	store := dcbackup.NewMemStore()
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 5}
	for i := 0; ; i++ {
		require.Less(t, i, 1000, "BackupNext does not catch up")
		var s dcbackup.BackupStore = store
		if i%3 == 1 {
			s = &saveFailingStore{BackupStore: store, n: 1}
		}
		res, err := dcbackup.BackupNext(ctx, "db", src, s, opts)
		if i%3 == 1 {
			require.ErrorIs(t, err, errDiskFull)
			require.Zero(t, res.Segments)
			continue
		}
		require.NoError(t, err)
		if !res.More {
			break
		}
	}
	requireExactCover(t, store, basisT(t, src)+1)
}

// shortReadStore returns segments cut short, as a broken disk or proxy might.
type shortReadStore struct{ dcbackup.BackupStore }

func (s shortReadStore) Load(ctx context.Context, db string, seg dcbackup.SegmentInfo) ([]byte, error) {
	d, err := s.BackupStore.Load(ctx, db, seg)
	if err != nil {
		return nil, err
	}
	return d[:len(d)*2/3], nil
}

// slowStore blocks every call until its context ends.
type slowStore struct{ dcbackup.BackupStore }

func (slowStore) Save(ctx context.Context, _ string, _ dcbackup.SegmentInfo, _ []byte) error {
	<-ctx.Done()
	return ctx.Err()
}

func (slowStore) Load(ctx context.Context, _ string, _ dcbackup.SegmentInfo) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestStoreFaultsAreReported(t *testing.T) {
	ctx := context.Background()
	store, src := backedUp(t, 33, 20, 5)

	t.Run("short read", func(t *testing.T) {
		target := newTarget()
		_, err := dcbackup.Restore(ctx, "db", shortReadStore{store}, target, nil)
		require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
		txs, _ := logLen(t, target)
		require.Zero(t, txs, "nothing applied from a truncated segment")
	})
	t.Run("restore times out", func(t *testing.T) {
		tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := dcbackup.Restore(tctx, "db", slowStore{store}, newTarget(), nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("backup times out", func(t *testing.T) {
		tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		res, err := dcbackup.Backup(tctx, "db", src, slowStore{dcbackup.NewMemStore()}, nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Zero(t, res.Segments, "no segment reported stored")
	})
}

// TestRacingBackupWriters runs several Backup and BackupNext calls on one
// store at once: the store ends with no gap and no overlap, nothing is
// overwritten, and every caller's account is true.
func TestRacingBackupWriters(t *testing.T) {
	ctx := context.Background()
	for round := range 5 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			src := newSource(t, 40+uint64(round), 50, round%2 == 0)
			store := dcbackup.NewMemStore()
			opts := &dcbackup.BackupOptions{MaxTxPerSegment: 6, Concurrency: 2}
			var wg sync.WaitGroup
			results := make([]dcbackup.BackupResult, 6)
			errs := make([]error, 6)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i%2 == 0 {
						results[i], errs[i] = dcbackup.Backup(ctx, "db", src, store, opts)
						return
					}
					for range 10000 {
						r, err := dcbackup.BackupNext(ctx, "db", src, store, opts)
						results[i].Segments += r.Segments
						results[i].Existing += r.Existing
						if err != nil || !r.More {
							errs[i] = err
							return
						}
					}
				}()
			}
			wg.Wait()
			written := 0
			for i := range results {
				require.NoError(t, errs[i])
				written += results[i].Segments
			}
			segs, err := store.List(ctx, "db", 0)
			require.NoError(t, err)
			require.Equal(t, len(segs), written, "each stored segment was reported written by exactly one caller")
			requireRestoresIdentically(t, store, src)
		})
	}
}

// TestRestoreFollowsOverlappingSegments builds the store a race between
// writers that saw different source states can leave: overlapping ranges.
// Restore passes over what is redundant and applies every transaction once.
func TestRestoreFollowsOverlappingSegments(t *testing.T) {
	ctx := context.Background()
	src := newSource(t, 50, 40, false)
	end := basisT(t, src) + 1
	store := dcbackup.NewMemStore()
	for _, r := range [][2]int64{{0, 10}, {0, 15}, {10, 20}, {12, 30}, {20, 25}, {30, end}} {
		_, err := dcbackup.BackupSegment(ctx, "db", src, store, r[0], r[1], nil)
		require.NoError(t, err)
	}
	requireRestoresIdentically(t, store, src)
	next, err := dcbackup.BackupNext(ctx, "db", src, store, nil)
	require.NoError(t, err)
	require.Zero(t, next.Segments)
}

var _ datomic.Conn = (*flakyConn)(nil)

// staleLastStore answers Last with the segment before the real last one,
// as a writer that read Last just before another writer saved would see.
type staleLastStore struct{ dcbackup.BackupStore }

func (s staleLastStore) Last(ctx context.Context, db string) (dcbackup.SegmentInfo, bool, error) {
	segs, err := s.List(ctx, db, 0)
	if err != nil || len(segs) < 2 {
		return dcbackup.SegmentInfo{}, false, err
	}
	return segs[len(segs)-2], true, nil
}

// TestBackupNextLeavesAnotherWritersSegment: a BackupNext that lost the
// race for the next range (another writer saved a segment starting where
// it starts, with another end) writes nothing, so no overlap is left.
func TestBackupNextLeavesAnotherWritersSegment(t *testing.T) {
	ctx := context.Background()
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	gen, err := histgen.New(ctx, src, histgen.Config{Seed: 80})
	require.NoError(t, err)
	_, err = gen.Run(ctx, 20)
	require.NoError(t, err)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 7})
	_, err = gen.Run(ctx, 10)
	require.NoError(t, err)
	// The stale writer continues from the second-to-last segment, whose
	// successor exists with a different end than it would choose.
	res, err := dcbackup.BackupNext(ctx, "db", src, staleLastStore{store}, nil)
	require.NoError(t, err)
	require.Zero(t, res.Segments)
	require.Equal(t, 1, res.Existing)
	require.True(t, res.More)
	backupNextAll(t, src, store, nil)
	requireExactCover(t, store, basisT(t, src)+1)
	requireRestoresIdentically(t, store, src)
}
