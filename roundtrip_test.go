package dcbackup_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/histgen"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRoundTripRandomHistories is the main property: for random histories
// (fixed seeds), any segmentation of the backup restores into a target with
// another bootstrap layout, and Verify finds the target identical to the
// source modulo the id map.
func TestRoundTripRandomHistories(t *testing.T) {
	histories := 100
	if testing.Short() {
		histories = 20
	}
	for seed := range uint64(histories) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rnd := rand.New(rand.NewPCG(seed, 7))
			shared := seed%2 == 1 // Datomic Pro: gaps between consecutive t
			src := newSource(t, seed, 20+rnd.IntN(60), shared)
			store := dcbackup.NewMemStore()
			opts := &dcbackup.BackupOptions{MaxTxPerSegment: 1 + rnd.IntN(15), Concurrency: 1 + rnd.IntN(4)}
			if rnd.IntN(2) == 0 {
				_, err := dcbackup.Backup(ctx, "db", src, store, opts)
				require.NoError(t, err)
			} else {
				backupNextAll(t, src, store, opts)
			}
			target, _ := requireRestoresIdentically(t, store, src)

			// Nothing new: a second restore does nothing.
			again, err := dcbackup.Restore(ctx, "db", store, target, nil)
			require.NoError(t, err)
			require.False(t, again.Restored)
		})
	}
}

// TestRestoreResumesAtEverySegment restores one segment per call, each call
// starting afresh from what the target holds, as after a crash between
// segments.
func TestRestoreResumesAtEverySegment(t *testing.T) {
	for seed := range uint64(10) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			src := newSource(t, 100+seed, 40, seed%2 == 0)
			store := dcbackup.NewMemStore()
			_, err := dcbackup.Backup(ctx, "db", src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 3})
			require.NoError(t, err)
			target := newTarget()
			calls := 0
			for {
				res, err := dcbackup.RestoreSegment(ctx, "db", store, target, nil)
				require.NoError(t, err)
				if !res.Restored {
					break
				}
				calls++
				require.Less(t, calls, 1000)
			}
			segs, err := store.List(ctx, "db", 0)
			require.NoError(t, err)
			require.Equal(t, len(segs), calls)
			requireVerified(t, src, target)
		})
	}
}

// TestBackupIncrementalAsSourceGrows interleaves source writes, BackupNext
// and Restore, as a scheduler and a standby would.
func TestBackupIncrementalAsSourceGrows(t *testing.T) {
	ctx := context.Background()
	src := mem.New(mem.Options{Clock: newStepClock().Now, SharedCounter: true})
	gen, err := histgen.New(ctx, src, histgen.Config{Seed: 42})
	require.NoError(t, err)
	store := dcbackup.NewMemStore()
	target := newTarget()
	for range 5 {
		_, err := gen.Run(ctx, 10)
		require.NoError(t, err)
		res, err := dcbackup.BackupNext(ctx, "db", src, store, nil)
		require.NoError(t, err)
		require.Positive(t, res.Segments)
		_, err = dcbackup.Restore(ctx, "db", store, target, nil)
		require.NoError(t, err)
		requireVerified(t, src, target)
	}
	res, err := dcbackup.BackupNext(ctx, "db", src, store, nil)
	require.NoError(t, err)
	require.Zero(t, res.Segments, "nothing new to back up")
}

// TestRestoreOfARestoredDatabase backs up a restore target and restores it
// again: the first restore's bookkeeping is not carried into the second
// copy, which is identical to the first modulo ids.
func TestRestoreOfARestoredDatabase(t *testing.T) {
	ctx := context.Background()
	store, _ := backedUp(t, 60, 40, 7)
	first := newTarget()
	_, err := dcbackup.Restore(ctx, "db", store, first, nil)
	require.NoError(t, err)

	store2 := dcbackup.NewMemStore()
	_, err = dcbackup.Backup(ctx, "copy", first, store2, &dcbackup.BackupOptions{MaxTxPerSegment: 5})
	require.NoError(t, err)
	second := mem.New(mem.Options{})
	res, err := dcbackup.Restore(ctx, "copy", store2, second, nil)
	require.NoError(t, err)
	txs, _ := logLen(t, first)
	require.Equal(t, txs, res.Transactions)
	requireVerified(t, first, second)
}

// Histories with composite backfills, excisions and renames of enums and
// attributes, backed up while they grow (so that some segments hold data
// excised later, and some attributes are renamed between backups),
// restore identically.
func TestRoundTripBackfillsExcisionsRenames(t *testing.T) {
	histories := 40
	if testing.Short() {
		histories = 10
	}
	var mu sync.Mutex
	var with extraCounts
	t.Cleanup(func() {
		t.Logf("%d histories: %d with backfills, %d with excisions, %d with renames", histories, with.backfills, with.excisions, with.renames)
		assert.Greater(t, with.backfills, histories/2)
		assert.Greater(t, with.excisions, histories/2)
		assert.Greater(t, with.renames, histories/2)
	})
	for seed := range uint64(histories) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			rnd := rand.New(rand.NewPCG(seed, 11))
			src := mem.New(mem.Options{Clock: newStepClock().Now, SharedCounter: seed%2 == 1})
			g, err := histgen.New(ctx, src, histgen.Config{Seed: seed + 1000, CompositeBackfill: true, Excision: true, Renames: true})
			require.NoError(t, err)
			store := dcbackup.NewMemStore()
			opts := &dcbackup.BackupOptions{MaxTxPerSegment: 1 + rnd.IntN(10)}
			for range 1 + rnd.IntN(5) {
				_, err := g.Run(ctx, 10+rnd.IntN(40))
				require.NoError(t, err)
				backupNextAll(t, src, store, opts)
			}
			requireRestoresIdentically(t, store, src)
			c := countExtras(t, src)
			mu.Lock()
			defer mu.Unlock()
			with.add(c)
		})
	}
}

// extraCounts counts histories with backfills, excisions and renames.
type extraCounts struct{ backfills, excisions, renames int }

func (c *extraCounts) add(o extraCounts) {
	c.backfills += min(o.backfills, 1)
	c.excisions += min(o.excisions, 1)
	c.renames += min(o.renames, 1)
}

// countExtras counts, in conn's log, composite datoms asserted by a
// transaction that changes none of their attributes (backfills), excision
// requests, and ident assertions on entities that had one (renames).
func countExtras(t *testing.T, conn datomic.Conn) extraCounts {
	t.Helper()
	ctx := testCtx(t)
	db, err := conn.DB(ctx)
	require.NoError(t, err)
	var c extraCounts
	named := map[int64]bool{}
	for tx, err := range conn.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		touched := map[[2]int64]bool{}
		for _, d := range tx.Datoms {
			touched[[2]int64{d.E, d.A}] = true
		}
		for _, d := range tx.Datoms {
			a, _, err := db.Attribute(ctx, d.A)
			require.NoError(t, err)
			switch {
			case a.Ident == "db/excise":
				c.excisions++
			case a.Ident == "db/ident" && d.Added:
				if named[d.E] {
					c.renames++
				}
				named[d.E] = true
			case a.IsComposite() && d.Added:
				changed := false
				for _, kw := range a.TupleAttrs {
					if id, ok, _ := db.Entid(ctx, kw); ok && touched[[2]int64{d.E, id}] {
						changed = true
					}
				}
				if !changed {
					c.backfills++
				}
			}
		}
	}
	return c
}
