package dcbackup_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/internal/storetest"
)

func TestMemStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dcbackup.BackupStore { return dcbackup.NewMemStore() })
}

func TestFSStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dcbackup.BackupStore {
		s, err := dcbackup.NewFSStore(t.TempDir())
		require.NoError(t, err)
		return s
	})
}

func TestFSStoreLayoutAndForeignFiles(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := dcbackup.NewFSStore(dir)
	require.NoError(t, err)
	seg := dcbackup.SegmentInfo{StartT: 1000, EndT: 2000}
	require.NoError(t, s.Save(ctx, "mbrainz", seg, []byte("data")))
	want := filepath.Join(dir, "mbrainz", "0000000000000001000-0000000000000002000.seg")
	got, err := os.ReadFile(want)
	require.NoError(t, err)
	assert.Equal(t, "data", string(got))
	assert.Equal(t, want, s.Path("mbrainz", seg))

	// Leftover temporary files and foreign names are ignored; a directory
	// under a segment's name is listed (it claims the range) but cannot be
	// loaded.
	db := filepath.Join(dir, "mbrainz")
	for _, name := range []string{
		".tmp-0000000000000002000-0000000000000003000.seg-123",
		"README", "0000000000000009000-0000000000000008000.seg",
		"000000000000000900-0000000000000009100.seg", "0000000000000009000-0000000000000009100.seg.bak",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(db, name), []byte("x"), 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(db, "0000000000000099000-0000000000000099100.seg"), 0o755))
	list, err := s.List(ctx, "mbrainz", 0)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, dcbackup.SegmentInfo{StartT: 1000, EndT: 2000, Size: 4}, list[0])
	dirSeg := dcbackup.SegmentInfo{StartT: 99000, EndT: 99100}
	assert.Equal(t, dirSeg, dcbackup.SegmentInfo{StartT: list[1].StartT, EndT: list[1].EndT})
	last, ok, err := s.Last(ctx, "mbrainz")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, list[1], last)
	_, err = s.Load(ctx, "mbrainz", dirSeg)
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
	assert.ErrorContains(t, err, "is a directory, not a regular file")
	require.NoError(t, os.Remove(filepath.Join(db, "0000000000000099000-0000000000000099100.seg")))

	// No temporary file is left behind by a save, nor by a refused one.
	require.ErrorIs(t, s.Save(ctx, "mbrainz", seg, []byte("other")), dcbackup.ErrSegmentExists)
	entries, err := os.ReadDir(db)
	require.NoError(t, err)
	tmp := 0
	for _, e := range entries {
		if len(e.Name()) > 5 && e.Name()[:5] == ".tmp-" {
			tmp++
		}
	}
	assert.Equal(t, 1, tmp, "only the planted temporary file remains")
}

func TestSegmentFileName(t *testing.T) {
	for _, seg := range []dcbackup.SegmentInfo{{StartT: 0, EndT: 1}, {StartT: 12, EndT: 1 << 62}, {StartT: 1, EndT: 1<<63 - 1}} {
		name := dcbackup.SegmentFileName(seg)
		assert.Len(t, name, 43)
		back, ok := dcbackup.ParseSegmentFileName(name)
		require.True(t, ok, name)
		assert.Equal(t, seg, back)
	}
	for _, bad := range []string{"", "x.seg", "0000000000000000002-0000000000000000001.seg", "000000000000000000a-0000000000000000001.seg", "0000000000000000001-0000000000000000002.sega"} {
		_, ok := dcbackup.ParseSegmentFileName(bad)
		assert.False(t, ok, bad)
	}
}

func TestFSStoreRemoveStaleTemp(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := dcbackup.NewFSStore(dir)
	require.NoError(t, err)
	seg := dcbackup.SegmentInfo{StartT: 1, EndT: 2}
	require.NoError(t, s.Save(ctx, "db", seg, []byte("kept")))
	db := filepath.Join(dir, "db")
	old := filepath.Join(db, ".tmp-0000000000000000002-0000000000000000003.seg-1")
	fresh := filepath.Join(db, ".tmp-0000000000000000002-0000000000000000003.seg-2")
	for _, p := range []string{old, fresh} {
		require.NoError(t, os.WriteFile(p, []byte("partial"), 0o600))
	}
	long := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(old, long, long))
	require.NoError(t, os.Chtimes(s.Path("db", seg), long, long))

	n, err := s.RemoveStaleTemp(ctx, "db", time.Hour)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.NoFileExists(t, old)
	assert.FileExists(t, fresh)
	got, err := s.Load(ctx, "db", seg)
	require.NoError(t, err)
	assert.Equal(t, "kept", string(got))

	n, err = s.RemoveStaleTemp(ctx, "nothing", time.Hour)
	require.NoError(t, err)
	assert.Zero(t, n)
	_, err = s.RemoveStaleTemp(ctx, "../x", time.Hour)
	require.ErrorIs(t, err, dcbackup.ErrInvalidDBName)
}
