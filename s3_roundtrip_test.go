package dcbackup_test

import (
	"context"
	"testing"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/edn"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/s3test"
	"github.com/stretchr/testify/require"
)

// TestS3RoundTripMBrainz runs the quickstart's round trip against a real
// S3-compatible server: the MusicBrainz sample backed up to a bucket,
// restored into a fresh database with another bootstrap layout, verified.
func TestS3RoundTripMBrainz(t *testing.T) {
	dir := mbrainzDir(t)
	store := s3test.NewStore(t, dcbackup.S3Options{})
	ctx := context.Background()
	source := mem.New(mem.Options{SharedCounter: true})
	_, err := edn.LoadMBrainz(ctx, source, dir, edn.LoadOptions{SplitSize: 2000})
	require.NoError(t, err)
	bk, err := dcbackup.Backup(ctx, "mbrainz", source, store, &dcbackup.BackupOptions{MaxTxPerSegment: 20})
	require.NoError(t, err)
	require.Greater(t, bk.Segments, 3)
	gaps, err := dcbackup.Gaps(ctx, "mbrainz", store)
	require.NoError(t, err)
	require.Empty(t, gaps)

	target := newTarget()
	rs, err := dcbackup.Restore(ctx, "mbrainz", store, target, nil)
	require.NoError(t, err)
	require.Equal(t, bk.Transactions, rs.Transactions)
	rep := requireVerified(t, source, target)
	require.Equal(t, bk.Datoms, rep.Datoms)
}
