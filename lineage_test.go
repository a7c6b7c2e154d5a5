package dcbackup_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/histgen"
)

// historyConn returns a mem database with database id id and a random
// history of n transactions from seed, on a deterministic clock: two
// calls with the same arguments make the same database, t for t.
func historyConn(t testing.TB, id string, seed uint64, n int) (*mem.Conn, *histgen.Generator) {
	t.Helper()
	conn := mem.New(mem.Options{Clock: newStepClock().Now, DatabaseID: id})
	g, err := histgen.New(context.Background(), conn, histgen.Config{Seed: seed})
	require.NoError(t, err)
	_, err = g.Run(context.Background(), n)
	require.NoError(t, err)
	return conn, g
}

// storeBytes returns every segment of "db" in store, by range.
func storeBytes(t testing.TB, store dcbackup.BackupStore) map[dcbackup.SegmentInfo]string {
	t.Helper()
	ctx := context.Background()
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	out := map[dcbackup.SegmentInfo]string{}
	for _, s := range segs {
		data, err := store.Load(ctx, "db", s)
		require.NoError(t, err)
		s.Size = 0
		out[s] = string(data)
	}
	return out
}

// requireSourceRefused requires every backup call with source against a
// copy of store to fail with ErrSourceMismatch and to leave the copy as it
// was.
func requireSourceRefused(t *testing.T, store dcbackup.BackupStore, source datomic.Conn) {
	t.Helper()
	ctx := context.Background()
	calls := map[string]func(dcbackup.BackupStore) (dcbackup.BackupResult, error){
		"BackupNext": func(s dcbackup.BackupStore) (dcbackup.BackupResult, error) {
			return dcbackup.BackupNext(ctx, "db", source, s, nil)
		},
		"Backup": func(s dcbackup.BackupStore) (dcbackup.BackupResult, error) {
			return dcbackup.Backup(ctx, "db", source, s, nil)
		},
		"Repair": func(s dcbackup.BackupStore) (dcbackup.BackupResult, error) {
			return dcbackup.Repair(ctx, "db", source, s, nil)
		},
	}
	for name, call := range calls {
		cp := copySegments(t, store, "db", nil)
		before := storeBytes(t, cp)
		res, err := call(cp)
		require.ErrorIs(t, err, dcbackup.ErrSourceMismatch, "%s", name)
		var sm *dcbackup.SourceMismatchError
		require.ErrorAs(t, err, &sm, "%s", name)
		assert.Zero(t, res.Segments, "%s wrote nothing", name)
		assert.Equal(t, before, storeBytes(t, cp), "%s left the store as it was", name)
	}
}

func TestBackupRefusesAnotherDatabaseUnderTheSameName(t *testing.T) {
	ctx := context.Background()
	a, _ := historyConn(t, "", 1, 30)
	b, _ := historyConn(t, "", 2, 40)
	store := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(ctx, "db", a, store, nil)
	require.NoError(t, err)
	requireSourceRefused(t, store, b)
	_, err = dcbackup.BackupNext(ctx, "db", b, store, nil)
	assert.ErrorContains(t, err, "another database")
}

// An impostor with the same schema, the same t numbering and the same
// first transaction (so the same lineage when the database id agrees) is
// refused at every store position after the histories part.
func TestBackupRefusesImpostorAtEveryPosition(t *testing.T) {
	for _, sameID := range []bool{false, true} {
		t.Run(fmt.Sprintf("sameID=%v", sameID), func(t *testing.T) {
			ctx := context.Background()
			idB := "impostor"
			if sameID {
				idB = "one-id"
			}
			a, _ := historyConn(t, "one-id", 10, 25)
			b, _ := historyConn(t, idB, 11, 40)
			// The histories agree on the generator's schema transactions
			// (same instants, same t); find where they part.
			parted := int64(-1)
			var aTxs []datomic.Tx
			for tx, err := range a.TxRange(ctx, 0, 0) {
				require.NoError(t, err)
				aTxs = append(aTxs, tx)
			}
			i := 0
			for tx, err := range b.TxRange(ctx, 0, 0) {
				require.NoError(t, err)
				if parted < 0 && (i >= len(aTxs) || fmt.Sprint(tx) != fmt.Sprint(aTxs[i])) {
					parted = tx.T
				}
				i++
			}
			require.Positive(t, parted)
			store := dcbackup.NewMemStore()
			positions := 0
			for range 1000 {
				res, err := dcbackup.BackupNext(ctx, "db", a, store, &dcbackup.BackupOptions{MaxTxPerSegment: 2})
				require.NoError(t, err)
				if !sameID || res.EndT > parted {
					requireSourceRefused(t, store, b)
					positions++
				}
				if !res.More {
					break
				}
			}
			assert.Greater(t, positions, 5)
		})
	}
}

// A database restored from an older backup and written to (the same id,
// the same first transaction) diverges from the store after the older
// backup's end.
func TestBackupRefusesDivergedSource(t *testing.T) {
	ctx := context.Background()
	a, ga := historyConn(t, "orders", 20, 30)
	b, gb := historyConn(t, "orders", 20, 30)
	_, err := ga.Run(ctx, 20)
	require.NoError(t, err)
	store := dcbackup.NewMemStore()
	backupNextAll(t, a, store, &dcbackup.BackupOptions{MaxTxPerSegment: 7})
	// b is a up to t 34, then other writes.
	_, err = b.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: datomic.Keyword("db/doc"), V: "written after the restore"}})
	require.NoError(t, err)
	_, err = gb.Run(ctx, 30)
	require.NoError(t, err)
	requireSourceRefused(t, store, b)

	// A source whose basis is below the store's end.
	c, _ := historyConn(t, "orders", 20, 10)
	requireSourceRefused(t, store, c)
	_, err = dcbackup.BackupNext(ctx, "db", c, store, nil)
	assert.ErrorContains(t, err, "basis")
}

func TestBackupSegmentNeverClaimsBeyondTheBasis(t *testing.T) {
	ctx := context.Background()
	src := mem.New(mem.Options{})
	for i := range 2 {
		_, err := src.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: datomic.Keyword("db/doc"), V: fmt.Sprint("tx ", i)}})
		require.NoError(t, err)
	}
	require.EqualValues(t, 2, basisT(t, src))
	store := dcbackup.NewMemStore()
	res, err := dcbackup.BackupSegment(ctx, "db", src, store, 0, 10, nil)
	require.NoError(t, err)
	assert.EqualValues(t, 3, res.EndT, "cut at the basis")
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Len(t, segs, 1)
	assert.EqualValues(t, 3, segs[0].EndT)

	_, err = dcbackup.BackupSegment(ctx, "db", src, store, 5, 10, nil)
	require.ErrorContains(t, err, "after the source's basis")

	_, err = src.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: datomic.Keyword("db/doc"), V: "tx 3"}})
	require.NoError(t, err)
	res, err = dcbackup.Backup(ctx, "db", src, store, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Transactions, "t 3 is backed up")
	requireRestoresIdentically(t, store, src)
}

// Two databases numbered t = 1, 2, 3, … as Datomic Cloud numbers them: a
// target restored from one refuses the other's store, whichever is longer,
// even when there is nothing to apply.
func TestRestoreRefusesStoreOfAnotherDatabase(t *testing.T) {
	ctx := context.Background()
	for _, n := range []struct{ a, b int }{{6, 12}, {12, 6}, {8, 8}} {
		t.Run(fmt.Sprintf("%d-%d", n.a, n.b), func(t *testing.T) {
			a, _ := historyConn(t, "", 30, n.a)
			b, _ := historyConn(t, "", 31, n.b)
			storeA, storeB := dcbackup.NewMemStore(), dcbackup.NewMemStore()
			_, err := dcbackup.Backup(ctx, "db", a, storeA, &dcbackup.BackupOptions{MaxTxPerSegment: 3})
			require.NoError(t, err)
			_, err = dcbackup.Backup(ctx, "db", b, storeB, &dcbackup.BackupOptions{MaxTxPerSegment: 3})
			require.NoError(t, err)
			target := newTarget()
			_, err = dcbackup.Restore(ctx, "db", storeA, target, nil)
			require.NoError(t, err)
			err = requireRestoreRefused(t, storeB, target, dcbackup.ErrWrongDatabase)
			assert.ErrorContains(t, err, "restored from another backup")
			before := basisT(t, target)
			_, err = dcbackup.RestoreSegment(ctx, "db", storeB, target, nil)
			require.ErrorIs(t, err, dcbackup.ErrWrongDatabase)
			require.Equal(t, before, basisT(t, target))
			// Its own store still continues.
			_, err = dcbackup.Restore(ctx, "db", storeA, target, nil)
			require.NoError(t, err)
			requireVerified(t, a, target)
		})
	}
}

func TestRestoreOfUnknownNameIsAnError(t *testing.T) {
	ctx := context.Background()
	store, _ := backedUp(t, 40, 10, 3)
	target := newTarget()
	for name, call := range map[string]func() error{
		"Restore": func() error {
			_, err := dcbackup.Restore(ctx, "typo", store, target, nil)
			return err
		},
		"RestoreSegment": func() error {
			_, err := dcbackup.RestoreSegment(ctx, "typo", store, target, nil)
			return err
		},
		"Replicate": func() error {
			return dcbackup.Replicate(ctx, "typo", store, target, nil)
		},
	} {
		err := call()
		require.ErrorIs(t, err, dcbackup.ErrNoSegments, name)
		assert.ErrorContains(t, err, `"typo"`, name)
	}
	assert.EqualValues(t, 0, basisT(t, target))
}

func TestReplicateWaitsForFirstBackupWhenAsked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := dcbackup.NewMemStore()
	polls := 0
	err := dcbackup.Replicate(ctx, "db", store, newTarget(), &dcbackup.ReplicateOptions{
		PollInterval:       1,
		WaitForFirstBackup: true,
		OnLag: func(l dcbackup.Lag) {
			require.ErrorIs(t, l.Err, dcbackup.ErrNoSegments)
			if polls++; polls == 3 {
				cancel()
			}
		},
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 3, polls)
}

// A segment of another database placed in a store under a plausible range
// (the same t numbering) is refused before anything is applied: the
// restore reads the chain's headers first.
func TestRestoreRefusesSegmentOfAnotherLineage(t *testing.T) {
	ctx := testCtx(t)
	a, _ := historyConn(t, "", 170, 30)
	b, _ := historyConn(t, "", 171, 30)
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 5}
	storeA, storeB := dcbackup.NewMemStore(), dcbackup.NewMemStore()
	backupNextAll(t, a, storeA, opts)
	backupNextAll(t, b, storeB, opts)
	segsA, err := storeA.List(ctx, "db", 0)
	require.NoError(t, err)
	segsB, err := storeB.List(ctx, "db", 0)
	require.NoError(t, err)
	// Find a range both stores have, past the first segment.
	var swap dcbackup.SegmentInfo
	for _, s := range segsA[2:] {
		for _, o := range segsB {
			if s.StartT == o.StartT && s.EndT == o.EndT {
				swap = s
			}
		}
	}
	require.NotZero(t, swap.EndT, "a range in both stores")
	foreign, err := storeB.Load(ctx, "db", swap)
	require.NoError(t, err)
	mixed := copySegments(t, storeA, "db", func(_ int, s dcbackup.SegmentInfo, data []byte) []byte {
		if s.StartT == swap.StartT && s.EndT == swap.EndT {
			return foreign
		}
		return data
	})
	target := newTarget()
	err = requireRestoreRefused(t, mixed, target, dcbackup.ErrChainBroken)
	assert.ErrorContains(t, err, swap.String())
	assert.ErrorContains(t, err, "another database")
	assert.EqualValues(t, 0, basisT(t, target), "nothing applied, not even the segments before it")

	rep, err := dcbackup.Check(ctx, "db", mixed, nil)
	require.NoError(t, err)
	require.False(t, rep.OK())
	assert.Equal(t, dcbackup.ProblemLineage, rep.Problems[0].Kind)
}

// Another database's segment in place of a store's first one: Check
// reports that segment (it used to take the first segment's lineage for
// the store's and report every genuine segment after it), and Backup and
// Repair, whose source is the store's database (most of its segments and
// its newest), move it aside and back its range up again (they refused
// the whole store as another database's, so nothing healed it). A store
// that is mostly another database's is still refused.
func TestForeignFirstSegmentIsMovedAside(t *testing.T) {
	ctx := testCtx(t)
	a, _ := historyConn(t, "orders", 172, 40)
	b, _ := historyConn(t, "billing", 173, 40)
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 8}
	store := dcbackup.NewMemStore()
	backupNextAll(t, a, store, opts)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 3)
	info, data := segmentOf(t, b, segs[0].StartT, segs[0].EndT)
	require.NoError(t, store.Delete(ctx, "db", segs[0]))
	require.NoError(t, store.Save(ctx, "db", info, data))

	rep, err := dcbackup.Check(ctx, "db", store, nil)
	require.NoError(t, err)
	require.Len(t, rep.Problems, 1)
	assert.Equal(t, dcbackup.ProblemLineage, rep.Problems[0].Kind)
	assert.Equal(t, segs[0].StartT, rep.Problems[0].Seg.StartT)

	requireSourceRefused(t, store, b)
	for _, call := range []func(context.Context, string, datomic.Conn, dcbackup.BackupStore, *dcbackup.BackupOptions) (dcbackup.BackupResult, error){dcbackup.Repair, dcbackup.Backup} {
		fixed := copySegments(t, store, "db", nil)
		res, err := call(ctx, "db", a, fixed, opts)
		require.NoError(t, err)
		assert.Equal(t, 1, res.Healed)
		requireRestoresIdentically(t, fixed, a)
	}
}

// BackupSegment refuses a store of another database whatever the range:
// it checked only a segment ending where its range starts, so ranges
// elsewhere were written into another database's store (and Backup then
// took the store for the source's).
func TestBackupSegmentRefusesAnotherDatabasesStore(t *testing.T) {
	ctx := testCtx(t)
	a, _ := historyConn(t, "orders", 174, 30)
	b, _ := historyConn(t, "billing", 175, 30)
	store := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(ctx, "db", b, store, nil)
	require.NoError(t, err)
	last := basisT(t, a)
	before := storeBytes(t, store)
	for _, r := range [][2]int64{{last - 2, last + 1}, {last, last + 1}, {2, 4}} {
		_, err := dcbackup.BackupSegment(ctx, "db", a, store, r[0], r[1], nil)
		require.ErrorIs(t, err, dcbackup.ErrSourceMismatch, "%v", r)
	}
	assert.Equal(t, before, storeBytes(t, store))
	_, err = dcbackup.Backup(ctx, "db", a, store, nil)
	require.ErrorIs(t, err, dcbackup.ErrSourceMismatch)
}

// Whose store it is does not depend on how it is cut into segments: the
// store's lineage is weighed by transactions. Two stray segments of
// another database stay moved aside by Backup after a compaction merged
// the source's segments into fewer than theirs (counting segments, it
// then refused the store as another database's); redundant overlaps of
// another database do not make Check report the segment a restore uses.
func TestStoreLineageIsWeighedByTransactions(t *testing.T) {
	ctx := testCtx(t)
	a, _ := historyConn(t, "orders", 176, 40)
	b, _ := historyConn(t, "billing", 177, 40)
	t.Run("after a compaction", func(t *testing.T) {
		store := dcbackup.NewMemStore()
		backupNextAll(t, a, store, &dcbackup.BackupOptions{MaxTxPerSegment: 2})
		segs, err := store.List(ctx, "db", 0)
		require.NoError(t, err)
		for _, s := range []dcbackup.SegmentInfo{segs[0], segs[len(segs)/2]} {
			info, data := segmentOf(t, b, s.StartT, s.EndT)
			require.NoError(t, store.Delete(ctx, "db", s))
			require.NoError(t, store.Save(ctx, "db", info, data))
		}
		_, err = dcbackup.Compact(ctx, "db", store, nil)
		require.NoError(t, err)
		res, err := dcbackup.Backup(ctx, "db", a, store, nil)
		require.NoError(t, err)
		assert.Equal(t, 2, res.Healed)
		requireRestoresIdentically(t, store, a)
	})
	t.Run("redundant overlaps", func(t *testing.T) {
		store := dcbackup.NewMemStore()
		_, err := dcbackup.Backup(ctx, "db", a, store, &dcbackup.BackupOptions{Concurrency: 1})
		require.NoError(t, err)
		for _, r := range [][2]int64{{0, 3}, {3, 5}} {
			info, data := segmentOf(t, b, r[0], r[1])
			require.NoError(t, store.Save(ctx, "db", info, data))
		}
		rep, err := dcbackup.Check(ctx, "db", store, nil)
		require.NoError(t, err)
		require.Len(t, rep.Problems, 2)
		for _, p := range rep.Problems {
			assert.Equal(t, dcbackup.ProblemLineage, p.Kind)
			assert.Less(t, p.Seg.EndT, int64(6), "the other database's overlaps, not the store's segment")
		}
		assert.Empty(t, rep.Gaps)
		res, err := dcbackup.Backup(ctx, "db", a, store, nil)
		require.NoError(t, err)
		assert.Equal(t, 2, res.Healed)
		requireRestoresIdentically(t, store, a)
	})
}

// A stray segment of another database as the store's newest is moved
// aside too, as Check's hint says (Backup refused the store).
func TestForeignNewestSegmentIsMovedAside(t *testing.T) {
	ctx := testCtx(t)
	a, _ := historyConn(t, "orders", 178, 40)
	b, _ := historyConn(t, "billing", 179, 60)
	store := dcbackup.NewMemStore()
	backupNextAll(t, a, store, &dcbackup.BackupOptions{MaxTxPerSegment: 8})
	end := basisT(t, a) + 1
	info, data := segmentOf(t, b, end, end+3)
	require.NoError(t, store.Save(ctx, "db", info, data))
	rep, err := dcbackup.Check(ctx, "db", store, nil)
	require.NoError(t, err)
	require.NotEmpty(t, rep.Problems)
	assert.Equal(t, info.StartT, rep.Problems[0].Seg.StartT)
	assert.Contains(t, rep.Problems[0].Err.Error(), "moves it aside")

	res, err := dcbackup.Backup(ctx, "db", a, store, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Healed)
	requireRestoresIdentically(t, store, a)
}
