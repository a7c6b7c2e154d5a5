package dcbackup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A segment is durable before it is published, and its publication is
// durable before Save returns: the file is synced while only its temporary
// name exists, the directory after the segment's name appears. Dropping
// either sync fails this test.
func TestFSStoreSyncsBeforeAndAfterPublishing(t *testing.T) {
	ctx := t.Context()
	s, err := NewFSStore(t.TempDir())
	require.NoError(t, err)
	seg := SegmentInfo{StartT: 10, EndT: 20}
	final := s.Path("db", seg)
	var steps []string
	s.syncFile = func(f *os.File) error {
		_, err := os.Lstat(final)
		assert.True(t, errors.Is(err, fs.ErrNotExist), "the file is synced before it is published")
		steps = append(steps, "file "+filepath.Base(f.Name()))
		return f.Sync()
	}
	s.syncDir = func(dir string) error {
		steps = append(steps, "dir "+dir)
		return syncDirectory(dir)
	}
	require.NoError(t, s.Save(ctx, "db", seg, []byte("data")))
	require.Len(t, steps, 3, "%q", steps)
	assert.Equal(t, "dir "+s.Dir(), steps[0], "the new database directory is made durable")
	assert.Regexp(t, `^file \.tmp-`, steps[1])
	assert.Equal(t, "dir "+filepath.Dir(final), steps[2], "the link is made durable")

	// A failing sync fails the save, and publishes nothing.
	steps = nil
	s.syncFile = func(*os.File) error { return errors.New("disk on fire") }
	other := SegmentInfo{StartT: 20, EndT: 30}
	require.ErrorContains(t, s.Save(ctx, "db", other, []byte("data")), "disk on fire")
	_, err = os.Lstat(s.Path("db", other))
	assert.True(t, errors.Is(err, fs.ErrNotExist))
	s.syncFile = (*os.File).Sync
	s.syncDir = func(string) error { return errors.New("directory on fire") }
	require.ErrorContains(t, s.Save(ctx, "db", other, []byte("data")), "directory on fire")
}
