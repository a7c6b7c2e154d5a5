//go:build unix

package dcbackup

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func umask(m int) int { return syscall.Umask(m) }

// File and directory modes follow FSOptions.
func TestFSStoreModes(t *testing.T) {
	old := umask(0)
	defer umask(old)
	ctx := t.Context()
	root := filepath.Join(t.TempDir(), "store")
	s, err := NewFSStoreWithOptions(root, FSOptions{FileMode: 0o600, DirMode: 0o700})
	require.NoError(t, err)
	require.NoError(t, s.Save(ctx, "db", SegmentInfo{StartT: 0, EndT: 1}, []byte("x")))
	for path, want := range map[string]os.FileMode{root: 0o700, filepath.Join(root, "db"): 0o700, s.Path("db", SegmentInfo{StartT: 0, EndT: 1}): 0o600} {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, want, fi.Mode().Perm(), path)
	}
	d, err := NewFSStore(filepath.Join(t.TempDir(), "default"))
	require.NoError(t, err)
	require.NoError(t, d.Save(ctx, "db", SegmentInfo{StartT: 0, EndT: 1}, []byte("x")))
	fi, err := os.Stat(d.Path("db", SegmentInfo{StartT: 0, EndT: 1}))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
}
