package dcbackup_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

// A file under a segment's name larger than the store's maximum segment
// size is refused from its size, without being read: a hostile 6 GB file
// once took a full read and 6.3 GB of memory to be called damaged. Check
// reports it as damage, and Backup moves it aside and backs its range up
// again. Save refuses a segment over the bound.
func TestFSStoreRefusesOversizedSegmentWithoutReadingIt(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 190, 40, false)
	dir := t.TempDir()
	store, err := dcbackup.NewFSStore(dir)
	require.NoError(t, err)
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 10})
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 2)
	victim := segs[1]
	// A sparse file of 2 GiB: reading it would take 2 GiB of memory.
	require.NoError(t, os.Truncate(store.Path("db", victim), 2<<30))

	_, err = store.Load(ctx, "db", victim)
	require.ErrorIs(t, err, dcbackup.ErrSegmentTooLarge)
	assert.ErrorContains(t, err, "maximum segment size")

	rep, err := dcbackup.Check(ctx, "db", store, nil)
	require.NoError(t, err)
	require.Len(t, rep.Problems, 1)
	assert.Equal(t, dcbackup.ProblemDamaged, rep.Problems[0].Kind)
	assert.Equal(t, victim.StartT, rep.Problems[0].Seg.StartT)

	res, err := dcbackup.Backup(ctx, "db", src, store, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Healed)
	requireRestoresIdentically(t, store, src)

	small, err := dcbackup.NewFSStoreWithOptions(t.TempDir(), dcbackup.FSOptions{MaxSegmentSize: 100})
	require.NoError(t, err)
	err = small.Save(ctx, "db", dcbackup.SegmentInfo{StartT: 0, EndT: 1}, make([]byte, 101))
	require.ErrorIs(t, err, dcbackup.ErrSegmentTooLarge)
	_, err = small.List(ctx, "db", 0)
	require.NoError(t, err)
}

// Sound segments over a store's (lowered) size bound are kept: Repair and
// Backup move none aside (they used to move them all, and then fail to
// write a replacement within the bound, leaving an empty store); Check
// reports them unreadable with that bound, and a restore through it is
// refused at the first one.
func TestFSStoreKeepsSoundSegmentsOverALoweredBound(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 191, 60, false)
	dir := t.TempDir()
	store, err := dcbackup.NewFSStore(dir)
	require.NoError(t, err)
	_, err = dcbackup.Backup(ctx, "db", src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 20})
	require.NoError(t, err)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	smallest := segs[0].Size
	for _, s := range segs {
		smallest = min(smallest, s.Size)
	}
	small, err := dcbackup.NewFSStoreWithOptions(dir, dcbackup.FSOptions{MaxSegmentSize: smallest - 1})
	require.NoError(t, err)

	for _, call := range []func(context.Context, string, datomic.Conn, dcbackup.BackupStore, *dcbackup.BackupOptions) (dcbackup.BackupResult, error){dcbackup.Repair, dcbackup.Backup} {
		res, err := call(ctx, "db", src, small, nil)
		require.NoError(t, err)
		assert.Zero(t, res.Healed)
	}
	after, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	assert.Equal(t, segs, after, "every segment kept")
	rep, err := dcbackup.Check(ctx, "db", small, nil)
	require.NoError(t, err)
	require.Len(t, rep.Problems, len(segs))
	assert.Equal(t, dcbackup.ProblemUnreadable, rep.Problems[0].Kind)
	_, err = dcbackup.Restore(ctx, "db", small, newTarget(), nil)
	require.ErrorIs(t, err, dcbackup.ErrSegmentTooLarge)
	requireRestoresIdentically(t, store, src)
}
