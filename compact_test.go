package dcbackup_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

// A store of one-transaction segments (BackupNext every minute) compacts
// into a few segments that restore identically.
func TestCompactMergesSmallSegments(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 140, 300, true)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
	before, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(before), 250)

	res, err := dcbackup.Compact(ctx, "db", store, &dcbackup.CompactOptions{MaxTxPerSegment: 100})
	require.NoError(t, err)
	assert.Equal(t, len(before), res.Before)
	assert.LessOrEqual(t, res.After, 5)
	assert.Equal(t, res.Before-res.After, res.Removed-res.Merged)
	after, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	assert.Len(t, after, res.After)
	requireRestoresIdentically(t, store, src)

	// Compacting again changes nothing; BackupNext continues after it.
	again, err := dcbackup.Compact(ctx, "db", store, &dcbackup.CompactOptions{MaxTxPerSegment: 100})
	require.NoError(t, err)
	assert.Zero(t, again.Merged)
	assert.Zero(t, again.Removed)
	_, err = src.Transact(ctx, nil)
	require.NoError(t, err)
	backupNextAll(t, src, store, nil)
	requireRestoresIdentically(t, store, src)
}

// Overlapping segments left by racing writers are removed with the run
// they lie in.
func TestCompactRemovesRedundantOverlaps(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 141, 60, false)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 3})
	// A second writer's segments with other boundaries.
	other := dcbackup.NewMemStore()
	backupNextAll(t, src, other, &dcbackup.BackupOptions{MaxTxPerSegment: 5})
	segs, err := other.List(ctx, "db", 0)
	require.NoError(t, err)
	for _, s := range segs[1:4] {
		data, err := other.Load(ctx, "db", s)
		require.NoError(t, err)
		if err := store.Save(ctx, "db", s, data); err != nil {
			require.ErrorIs(t, err, dcbackup.ErrSegmentExists)
		}
	}
	res, err := dcbackup.Compact(ctx, "db", store, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.After)
	requireRestoresIdentically(t, store, src)
}

// Restores running while the store is compacted never fail and never miss
// a transaction; two compactors racing lose nothing.
func TestCompactWhileRestoringAndCompacting(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 142, 200, true)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 2 {
		wg.Go(func() {
			_, err := dcbackup.Compact(ctx, "db", store, &dcbackup.CompactOptions{MaxTxPerSegment: 40})
			errs <- err
		})
	}
	targets := make([]*struct{ res dcbackup.RestoreResult }, 3)
	for i := range targets {
		targets[i] = &struct{ res dcbackup.RestoreResult }{}
		target := newTarget()
		wg.Go(func() {
			res, err := dcbackup.Restore(context.WithoutCancel(ctx), "db", store, target, &dcbackup.RestoreOptions{Prefetch: 2})
			targets[i].res = res
			if err == nil {
				_, err = dcbackup.Restore(ctx, "db", store, target, nil)
			}
			if err == nil {
				rep, verr := dcbackup.Verify(ctx, src, target, nil)
				if verr == nil && !rep.OK() {
					t.Errorf("differences: %v", rep.Differences)
				}
				err = verr
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requireRestoresIdentically(t, store, src)
}

func TestCompactNeedsARemover(t *testing.T) {
	store, _ := backedUp(t, 143, 20, 2)
	_, err := dcbackup.Compact(testCtx(t), "db", plainStore{store}, nil)
	require.ErrorContains(t, err, "cannot delete segments")
	_, err = dcbackup.Compact(testCtx(t), "nothing", store, nil)
	require.ErrorIs(t, err, dcbackup.ErrNoSegments)
}

// ContinuousBackup compacts on its schedule.
func TestContinuousBackupCompacts(t *testing.T) {
	src := newSource(t, 144, 60, false)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
	before, err := store.List(testCtx(t), "db", 0)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var got dcbackup.CompactResult
	err = dcbackup.ContinuousBackup(ctx, "db", src, store, &dcbackup.ContinuousBackupOptions{
		CompactInterval: time.Hour,
		OnCompact: func(r dcbackup.CompactResult, err error) {
			require.NoError(t, err)
			got = r
			cancel()
		},
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, len(before), got.Before)
	assert.Less(t, got.After, got.Before)
	requireRestoresIdentically(t, store, src)
}

// What an interrupted compaction leaves (a merged segment and some of its
// inputs) is cleaned up by the next one.
func TestCompactRemovesWhatAnInterruptedOneLeft(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 145, 30, false)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 3})
	before := storeBytes(t, store)
	_, err := dcbackup.Compact(ctx, "db", store, nil)
	require.NoError(t, err)
	// Two inputs come back, as if their deletion had not happened.
	n := 0
	for info, data := range before {
		if n == 2 {
			break
		}
		if store.Save(ctx, "db", info, []byte(data)) == nil {
			n++
		}
	}
	require.Equal(t, 2, n)
	res, err := dcbackup.Compact(ctx, "db", store, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Removed)
	assert.Equal(t, 1, res.After)
	requireRestoresIdentically(t, store, src)
}
