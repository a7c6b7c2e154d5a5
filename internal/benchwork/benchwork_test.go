package benchwork_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/benchwork"
)

// TestGeneratedLogRestores backs the generated log up, restores it into an
// in-memory Datomic and into the no-op target, and verifies the copy.
func TestGeneratedLogRestores(t *testing.T) {
	ctx := context.Background()
	for _, stride := range []int64{1, 7} {
		src, err := benchwork.NewSource(ctx, benchwork.Config{Seed: 3, Datoms: 20_000, TStride: stride})
		require.NoError(t, err)
		store := dcbackup.NewMemStore()
		bk, err := dcbackup.Backup(ctx, "gen", src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 17})
		require.NoError(t, err)
		require.Greater(t, bk.Datoms, 19_000)

		target := mem.New(mem.Options{BootstrapShift: 100})
		rs, err := dcbackup.Restore(ctx, "gen", store, target, nil)
		require.NoError(t, err)
		require.Equal(t, bk.Transactions, rs.Transactions)
		// Into a fresh target: no lookup request at all.
		require.Zero(t, rs.Remap.Lookups)
		require.Positive(t, rs.Remap.NewEntities)
		rep, err := dcbackup.Verify(ctx, src, target, nil)
		require.NoError(t, err)
		require.True(t, rep.OK(), "%v", rep.Differences)
		require.Equal(t, bk.Datoms, rep.Datoms)

		nop := benchwork.NewNopTarget()
		rn, err := dcbackup.Restore(ctx, "gen", store, nop, nil)
		require.NoError(t, err)
		require.Equal(t, rs.Datoms, rn.Datoms)
		require.Equal(t, rs.Remap.NewEntities, rn.Remap.NewEntities)
		require.Equal(t, rs.Remap.Lookups, rn.Remap.Lookups)
	}
}
