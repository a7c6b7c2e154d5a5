package dcbackup_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/benchwork"
)

// With an id cache far smaller than the database, refs to older entities
// go to the target as lookup refs, without a request each, and the
// attributes, which every segment needs as ids, are looked up at most
// once per restore, not once per segment.
func TestRestoreWithASmallCacheLooksAttributesUpOnce(t *testing.T) {
	ctx := testCtx(t)
	src, err := benchwork.NewSource(ctx, benchwork.Config{Seed: 4, Transactions: 120})
	require.NoError(t, err)
	store := dcbackup.NewMemStore()
	bk, err := dcbackup.Backup(ctx, "db", src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 4})
	require.NoError(t, err)
	require.Greater(t, bk.Segments, 25)

	target := mem.New(mem.Options{BootstrapShift: 100})
	res, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{CacheSize: 50})
	require.NoError(t, err)
	assert.Equal(t, bk.Transactions, res.Transactions)
	// The workload has seven attributes.
	assert.LessOrEqual(t, res.Remap.Lookups, int64(7), "lookup requests")
	assert.Positive(t, res.Remap.LookupRefs, "refs to entities the cache no longer holds")
	assert.Positive(t, res.Remap.CacheMisses)
	requireVerified(t, src, target)
}
