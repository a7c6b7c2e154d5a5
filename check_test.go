package dcbackup_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

func TestCheckHealthyStore(t *testing.T) {
	ctx := testCtx(t)
	store, src := backedUp(t, 160, 40, 4)
	srcTxs, srcDatoms := logLen(t, src)
	for _, headers := range []bool{false, true} {
		rep, err := dcbackup.Check(ctx, "db", store, &dcbackup.CheckOptions{HeadersOnly: headers})
		require.NoError(t, err)
		assert.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
		assert.EqualValues(t, srcTxs, rep.Transactions)
		assert.EqualValues(t, srcDatoms, rep.Datoms)
		assert.EqualValues(t, basisT(t, src)+1, rep.EndT)
		assert.Zero(t, rep.Redundant)
	}
	_, err := dcbackup.Check(ctx, "typo", store, nil)
	require.ErrorIs(t, err, dcbackup.ErrNoSegments)
}

// Overlapping segments (racing writers) are counted once: Check counts
// what a restore applies, not the sum of the segments.
func TestCheckCountsOverlapsOnce(t *testing.T) {
	ctx := testCtx(t)
	src := newSource(t, 161, 60, true)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 3})
	other := dcbackup.NewMemStore()
	backupNextAll(t, src, other, &dcbackup.BackupOptions{MaxTxPerSegment: 7})
	segs, err := other.List(ctx, "db", 0)
	require.NoError(t, err)
	added := 0
	for _, s := range segs {
		data, err := other.Load(ctx, "db", s)
		require.NoError(t, err)
		if store.Save(ctx, "db", s, data) == nil {
			added++
		}
	}
	require.Positive(t, added)
	srcTxs, srcDatoms := logLen(t, src)
	rep, err := dcbackup.Check(ctx, "db", store, nil)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
	assert.EqualValues(t, srcTxs, rep.Transactions)
	assert.EqualValues(t, srcDatoms, rep.Datoms)
	assert.Positive(t, rep.Redundant)
}

// A damaged segment is a problem and leaves a gap; Check changes nothing.
func TestCheckFindsDamage(t *testing.T) {
	ctx := testCtx(t)
	store, _ := backedUp(t, 162, 40, 4)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	bad := copySegments(t, store, "db", func(i int, _ dcbackup.SegmentInfo, data []byte) []byte {
		if i == 2 {
			data[len(data)/2] ^= 0x40
		}
		return data
	})
	rep, err := dcbackup.Check(ctx, "db", bad, nil)
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Len(t, rep.Problems, 1)
	assert.Equal(t, dcbackup.ProblemDamaged, rep.Problems[0].Kind)
	assert.Equal(t, segs[2].StartT, rep.Problems[0].Seg.StartT)
	require.ErrorIs(t, rep.Problems[0].Err, dcbackup.ErrCorruptSegment)
	assert.Equal(t, []dcbackup.Gap{{StartT: segs[2].StartT, EndT: segs[2].EndT}}, rep.Gaps)
	after, err := bad.List(ctx, "db", 0)
	require.NoError(t, err)
	assert.Len(t, after, len(segs), "nothing moved")
}
