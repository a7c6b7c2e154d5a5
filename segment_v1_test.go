package dcbackup_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

// Segments of format version 1, written by the version 1 encoder and kept
// in testdata: readers keep reading them.

// TestSegmentV1Decodes decodes version 1 segments of every value type,
// compressed and not, to exactly the segment they were encoded from.
func TestSegmentV1Decodes(t *testing.T) {
	want := genSegment(35, 20)
	for _, name := range []string{"gen-35-20-zstd.seg", "gen-35-20-none.seg"} {
		data, err := os.ReadFile(filepath.Join("testdata", "segment-v1", name))
		require.NoError(t, err)
		require.Equal(t, byte(1), data[4], "a version 1 segment")
		got, err := dcbackup.DecodeSegment(data, want.Info(), dcbackup.DecodeOptions{DB: want.DB})
		require.NoError(t, err, name)
		requireSameSegment(t, want, got)
	}
}

// TestRestoreV1Store restores a store written by the version 1 backup
// (testdata/store-v1, a random history of seed 21) and verifies it.
func TestRestoreV1Store(t *testing.T) {
	src, err := dcbackup.NewFSStore(filepath.Join("testdata", "store-v1"))
	require.NoError(t, err)
	store := copySegments(t, src, "db", nil)
	source := newSource(t, 21, 60, true)
	requireRestoresIdentically(t, store, source)
}
