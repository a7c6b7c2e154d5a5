package dcbackup_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
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

// A segment Compact cannot read (damaged, or encrypted to no identity
// given) is left as it is, for Check to report and Repair to heal; the
// segments on either side of it are merged without it.
func TestCompactLeavesUnreadableSegments(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 142, 60, false)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	bad := segs[len(segs)/2]
	data, err := store.Load(ctx, "db", bad)
	require.NoError(t, err)
	data = append([]byte(nil), data...)
	data[len(data)-1] ^= 1 // in the payload: the header still reads
	require.NoError(t, store.Delete(ctx, "db", bad))
	require.NoError(t, store.Save(ctx, "db", bad, data))

	res, err := dcbackup.Compact(ctx, "db", store, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Skipped)
	assert.Equal(t, 2, res.Merged, "the runs before and after it")
	assert.Equal(t, 3, res.After)
	kept, err := store.Load(ctx, "db", bad)
	require.NoError(t, err)
	assert.Equal(t, data, kept, "the damaged segment is left as it is")
	rep, err := dcbackup.Check(ctx, "db", store, nil)
	require.NoError(t, err)
	require.Len(t, rep.Problems, 1)
	assert.Equal(t, dcbackup.ProblemDamaged, rep.Problems[0].Kind)
	assert.Equal(t, bad.StartT, rep.Problems[0].Seg.StartT)

	_, err = dcbackup.Repair(ctx, "db", src, store, nil)
	require.NoError(t, err)
	_, err = dcbackup.Compact(ctx, "db", store, &dcbackup.CompactOptions{MaxTxPerSegment: 10})
	require.NoError(t, err)
	requireRestoresIdentically(t, store, src)
}

func TestCompactLeavesSegmentsNoIdentityOpens(t *testing.T) {
	ctx := testCtx(t)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	other, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	src := smallSource(t, 20)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 3, Encode: dcbackup.EncodeOptions{Recipients: []age.Recipient{id.Recipient()}}})
	before, err := store.List(ctx, "db", 0)
	require.NoError(t, err)

	res, err := dcbackup.Compact(ctx, "db", store, &dcbackup.CompactOptions{
		Decode: dcbackup.DecodeOptions{Identities: []age.Identity{other}},
		Encode: dcbackup.EncodeOptions{Recipients: []age.Recipient{other.Recipient()}},
	})
	require.NoError(t, err)
	assert.Zero(t, res.Merged)
	assert.Zero(t, res.Removed)
	assert.Positive(t, res.Skipped)
	after, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	_, err = dcbackup.Restore(ctx, "db", store, newTarget(), restoreOpts(id))
	require.NoError(t, err)
}

// CompactOptions.Concurrency bounds the segments loaded at once, below the
// default too.
func TestCompactConcurrencyBoundsLoads(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 143, 30, false)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
	gs := &gatedStore{MemStore: store, loads: newGate(1), heads: newGate(1)}
	res, err := dcbackup.Compact(ctx, "db", gs, &dcbackup.CompactOptions{Concurrency: 1})
	require.NoError(t, err)
	assert.Equal(t, 1, res.After)
	assert.Equal(t, 1, gs.loads.maxInFlight())
	assert.Equal(t, 1, gs.heads.maxInFlight())
}

// A run that the chain enters midway (after a segment Compact leaves as
// it is, which overlaps the run's first segment) merges that first segment
// whole: the merged segment holds every transaction of its range, and the
// chain still links.
func TestCompactRunEnteredMidway(t *testing.T) {
	ctx := testCtx(t)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	src := smallSource(t, 30)
	scratch := dcbackup.NewMemStore()
	backupNextAll(t, src, scratch, &dcbackup.BackupOptions{MaxTxPerSegment: 4})
	s, err := scratch.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(s), 4)

	store := dcbackup.NewMemStore()
	// An encrypted segment Compact cannot read, then a plaintext one that
	// overlaps it, then the rest.
	_, err = dcbackup.BackupSegment(ctx, "db", src, store, s[0].StartT, s[1].EndT,
		&dcbackup.BackupOptions{Encode: dcbackup.EncodeOptions{Recipients: []age.Recipient{id.Recipient()}}})
	require.NoError(t, err)
	_, err = dcbackup.BackupSegment(ctx, "db", src, store, s[1].StartT, s[2].EndT, nil)
	require.NoError(t, err)
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 4})

	res, err := dcbackup.Compact(ctx, "db", store, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Merged)
	assert.Equal(t, 1, res.Skipped)
	assert.Equal(t, 2, res.After)

	target := newTarget()
	_, err = dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{
		Decode: dcbackup.DecodeOptions{Identities: []age.Identity{id}, AllowUnencrypted: true}})
	require.NoError(t, err)
	requireVerified(t, src, target)
	rep, err := dcbackup.Check(ctx, "db", store, &dcbackup.CheckOptions{Decode: dcbackup.DecodeOptions{Identities: []age.Identity{id}, AllowUnencrypted: true}})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
	srcTxs, _ := logLen(t, src)
	assert.EqualValues(t, srcTxs, rep.Transactions)
}

// compactingStore runs a Compact of its store right after the next List
// once armed: a compaction that replaces every listed segment before the
// caller reads them.
type compactingStore struct {
	*dcbackup.MemStore
	armed atomic.Bool
	err   error
}

func (s *compactingStore) List(ctx context.Context, db string, from int64) ([]dcbackup.SegmentInfo, error) {
	segs, err := s.MemStore.List(ctx, db, from)
	if s.armed.CompareAndSwap(true, false) {
		_, s.err = dcbackup.Compact(ctx, db, s.MemStore, &dcbackup.CompactOptions{MaxTxPerSegment: 1000})
	}
	return segs, err
}

// Restore, RestoreSegment and Check whose listing a compaction replaced
// before they read it list again: a continuing restore used to fail on
// the segment holding its last restored t (segment not found), and Check
// reported the whole history as a gap.
func TestCallsListAgainWhenACompactionReplacedTheirListing(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 153, 60, true)
	setUp := func(t *testing.T) (*compactingStore, datomic.Conn) {
		store := &compactingStore{MemStore: dcbackup.NewMemStore()}
		backupNextAll(t, src, store.MemStore, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
		target := newTarget()
		for range 3 {
			_, err := dcbackup.RestoreSegment(ctx, "db", store, target, nil)
			require.NoError(t, err)
		}
		store.armed.Store(true)
		return store, target
	}
	t.Run("Restore", func(t *testing.T) {
		store, target := setUp(t)
		_, err := dcbackup.Restore(ctx, "db", store, target, nil)
		require.NoError(t, err)
		require.NoError(t, store.err)
		requireVerified(t, src, target)
	})
	t.Run("RestoreSegment", func(t *testing.T) {
		store, target := setUp(t)
		res, err := dcbackup.RestoreSegment(ctx, "db", store, target, nil)
		require.NoError(t, err)
		require.NoError(t, store.err)
		assert.True(t, res.Restored)
	})
	for _, headersOnly := range []bool{false, true} {
		t.Run(fmt.Sprint("Check headers only ", headersOnly), func(t *testing.T) {
			store, _ := setUp(t)
			rep, err := dcbackup.Check(ctx, "db", store, &dcbackup.CheckOptions{HeadersOnly: headersOnly})
			require.NoError(t, err)
			require.NoError(t, store.err)
			assert.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
			assert.Equal(t, 1, rep.Segments)
		})
	}
}

// phantomStore lists one segment more than it holds, every time: a store
// whose listing a compaction replaces before every read.
type phantomStore struct{ *dcbackup.MemStore }

func (s phantomStore) List(ctx context.Context, db string, from int64) ([]dcbackup.SegmentInfo, error) {
	segs, err := s.MemStore.List(ctx, db, from)
	if err != nil || len(segs) == 0 {
		return segs, err
	}
	last := segs[len(segs)-1]
	return append(segs, dcbackup.SegmentInfo{StartT: last.EndT, EndT: last.EndT + 1}), nil
}

// A Check whose every listing is replaced before it reads it ends with an
// error, as a restore does, after a bounded number of listings; it used
// to report the vanished range as a gap with no error.
func TestCheckGivesUpWhenSegmentsKeepVanishing(t *testing.T) {
	store := dcbackup.NewMemStore()
	backupNextAll(t, newSource(t, 154, 20, false), store, nil)
	for _, headersOnly := range []bool{false, true} {
		_, err := dcbackup.Check(testCtx(t), "db", phantomStore{store}, &dcbackup.CheckOptions{HeadersOnly: headersOnly})
		require.ErrorIs(t, err, dcbackup.ErrSegmentNotFound)
		assert.ErrorContains(t, err, "kept vanishing")
	}
}
