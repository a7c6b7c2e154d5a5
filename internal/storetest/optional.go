package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

// testLoadHead checks HeadLoader: a prefix of the segment, all of a
// shorter one, ErrSegmentNotFound for a missing one.
func testLoadHead(t *testing.T, s dcbackup.BackupStore) {
	hl, ok := s.(dcbackup.HeadLoader)
	if !ok {
		t.Skipf("%T does not implement HeadLoader", s)
	}
	ctx := t.Context()
	data := payload(7, 5000)
	require.NoError(t, s.Save(ctx, "db", seg(10, 20), data))
	head, err := hl.LoadHead(ctx, "db", seg(10, 20), 100)
	require.NoError(t, err)
	assert.Equal(t, data[:100], head)
	head, err = hl.LoadHead(ctx, "db", seg(10, 20), 10000)
	require.NoError(t, err)
	assert.Equal(t, data, head)
	_, err = hl.LoadHead(ctx, "db", seg(20, 30), 100)
	require.ErrorIs(t, err, dcbackup.ErrSegmentNotFound)
}

// testQuarantineAndDelete checks SegmentRemover: a quarantined or deleted
// segment leaves the listing and its name can be saved again; deleting a
// missing segment is fine, quarantining one is ErrSegmentNotFound.
func testQuarantineAndDelete(t *testing.T, s dcbackup.BackupStore) {
	rm, ok := s.(dcbackup.SegmentRemover)
	if !ok {
		t.Skipf("%T does not implement SegmentRemover", s)
	}
	ctx := t.Context()
	for _, sg := range []dcbackup.SegmentInfo{seg(0, 10), seg(10, 20), seg(20, 30)} {
		require.NoError(t, s.Save(ctx, "db", sg, payload(uint64(sg.StartT), 64)))
	}
	where, err := rm.Quarantine(ctx, "db", seg(10, 20))
	require.NoError(t, err)
	assert.Contains(t, where, dcbackup.QuarantineDir)
	require.NoError(t, rm.Delete(ctx, "db", seg(20, 30)))
	require.NoError(t, rm.Delete(ctx, "db", seg(20, 30)), "deleting twice")
	list, err := s.List(ctx, "db", 0)
	require.NoError(t, err)
	assert.Equal(t, []dcbackup.SegmentInfo{seg(0, 10)}, ranges(t, list, map[[2]int64]int{{0, 10}: 64}))
	_, err = s.Load(ctx, "db", seg(10, 20))
	require.ErrorIs(t, err, dcbackup.ErrSegmentNotFound)
	_, err = rm.Quarantine(ctx, "db", seg(10, 20))
	require.ErrorIs(t, err, dcbackup.ErrSegmentNotFound)
	// The names are free again.
	require.NoError(t, s.Save(ctx, "db", seg(10, 20), []byte("again")))
	require.NoError(t, s.Save(ctx, "db", seg(20, 30), []byte("again")))
	last, ok, err := s.Last(ctx, "db")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int64(20), last.StartT)
}
