package dcbackup_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// storeHolds reports whether any segment of "db" holds needle in its
// stored bytes (an unencrypted, uncompressed store).
func storeHolds(t *testing.T, store dcbackup.BackupStore, needle string) bool {
	t.Helper()
	for _, data := range storeBytes(t, store) {
		if bytes.Contains([]byte(data), []byte(needle)) {
			return true
		}
	}
	return false
}

// Excised data backed up before the excision lives on in the store until
// PurgeExcised rewrites the segments that hold it; the store then restores
// identically and holds no trace of it.
func TestPurgeExcisedRemovesExcisedDataFromTheStore(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprint("shared=", shared), func(t *testing.T) {
			ctx := testCtx(t)
			kw := func(s string) datomic.Keyword { return datomic.Keyword(s) }
			src := mem.New(mem.Options{Clock: newStepClock().Now, SharedCounter: shared})
			tx := func(ops ...datomic.Op) datomic.TxReport {
				t.Helper()
				rep, err := src.Transact(ctx, ops)
				require.NoError(t, err)
				return rep
			}
			tx(datomic.EntityMap{"db/ident": kw("p/name"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")},
				datomic.EntityMap{"db/ident": kw("p/note"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")})
			var secret int64
			for i := range 12 {
				rep := tx(datomic.EntityMap{datomic.DBID: datomic.TempID("p"), "p/name": fmt.Sprint("person-", i), "p/note": fmt.Sprintf("secret-%02d-xyzzy", i)})
				if i == 4 {
					secret = rep.Tempids["p"]
				}
			}
			store := dcbackup.NewMemStore()
			opts := &dcbackup.BackupOptions{MaxTxPerSegment: 2, Encode: dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone}}
			backupNextAll(t, src, store, opts)
			require.True(t, storeHolds(t, store, "secret-04-xyzzy"))

			tx(datomic.EntityMap{"db/excise": secret})
			tx(datomic.EntityMap{"p/name": "after the excision"})
			res, err := dcbackup.BackupNext(ctx, "db", src, store, opts)
			require.NoError(t, err)
			assert.True(t, res.Excised, "BackupNext says the store holds excised data")
			backupNextAll(t, src, store, opts)
			require.True(t, storeHolds(t, store, "secret-04-xyzzy"), "still in the store")

			pr, err := dcbackup.PurgeExcised(ctx, "db", src, store, opts)
			require.NoError(t, err)
			assert.Positive(t, pr.Stale)
			assert.Positive(t, pr.Written)
			assert.False(t, storeHolds(t, store, "secret-04-xyzzy"), "purged")
			assert.True(t, storeHolds(t, store, "secret-05-xyzzy"), "the rest is kept")
			rep, err := dcbackup.Check(ctx, "db", store, nil)
			require.NoError(t, err)
			assert.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
			requireRestoresIdentically(t, store, src)

			again, err := dcbackup.PurgeExcised(ctx, "db", src, store, opts)
			require.NoError(t, err)
			assert.Zero(t, again.Stale)
			assert.Zero(t, again.Written)
			backupNextAll(t, src, store, opts)
		})
	}
}

// writeFailingStore fails the n-th Save or Delete (counting from 1) and
// every one after it, as a process killed midway would.
type writeFailingStore struct {
	*dcbackup.MemStore
	n, calls int
}

func (s *writeFailingStore) fail() bool {
	s.calls++
	return s.calls >= s.n
}

func (s *writeFailingStore) Save(ctx context.Context, db string, seg dcbackup.SegmentInfo, data []byte) error {
	if s.fail() {
		return errDiskFull
	}
	return s.MemStore.Save(ctx, db, seg, data)
}

func (s *writeFailingStore) Delete(ctx context.Context, db string, seg dcbackup.SegmentInfo) error {
	if s.fail() {
		return errDiskFull
	}
	return s.MemStore.Delete(ctx, db, seg)
}

// A PurgeExcised stopped at any write or delete loses nothing: the store
// restores identically, or a restore refuses it with ErrChainBroken, and a
// message that says to run the purge again, before it applies anything;
// run again, the purge completes and the store holds no excised data. A
// run of stale segments within the segment limits is rewritten as one
// segment, so no interruption leaves such a store; with smaller limits it
// is cut into groups, and between two groups the chain is broken.
func TestPurgeExcisedInterruptedAnywhere(t *testing.T) {
	for _, tc := range []struct {
		name    string
		purge   *dcbackup.BackupOptions
		refused bool
	}{
		{"default limits", &dcbackup.BackupOptions{Encode: dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone}}, false},
		{"two transactions per segment", &dcbackup.BackupOptions{MaxTxPerSegment: 2, Encode: dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testPurgeInterrupted(t, tc.purge, tc.refused) })
	}
}

func testPurgeInterrupted(t *testing.T, purgeOpts *dcbackup.BackupOptions, someRefused bool) {
	ctx := testCtx(t)
	kw := func(s string) datomic.Keyword { return datomic.Keyword(s) }
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	tx := func(ops ...datomic.Op) datomic.TxReport {
		t.Helper()
		rep, err := src.Transact(ctx, ops)
		require.NoError(t, err)
		return rep
	}
	tx(datomic.EntityMap{"db/ident": kw("p/name"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")},
		datomic.EntityMap{"db/ident": kw("p/note"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")})
	var excise []datomic.Op
	for i := range 16 {
		rep := tx(datomic.EntityMap{datomic.DBID: datomic.TempID("p"), "p/name": fmt.Sprint("person-", i), "p/note": fmt.Sprintf("secret-%02d-xyzzy", i)})
		if i >= 2 && i < 14 {
			excise = append(excise, datomic.EntityMap{"db/excise": rep.Tempids["p"]})
		}
	}
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 2, Encode: dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone}}
	before := dcbackup.NewMemStore()
	backupNextAll(t, src, before, opts)
	tx(excise...)
	backupNextAll(t, src, before, opts)

	refused := 0
	for n := 1; ; n++ {
		require.Less(t, n, 100, "the purge does not finish")
		store := copySegments(t, before, "db", nil)
		_, err := dcbackup.PurgeExcised(ctx, "db", src, &writeFailingStore{MemStore: store, n: n}, purgeOpts)
		if err == nil {
			t.Logf("a purge makes %d writes and deletes; %d interruptions leave a store restores refuse until it runs again", n-1, refused)
			break
		}
		require.ErrorIs(t, err, errDiskFull)

		target := newTarget()
		if _, err := dcbackup.Restore(ctx, "db", copySegments(t, store, "db", nil), newTarget(), nil); err != nil {
			refused++
			err = requireRestoreRefused(t, store, target, dcbackup.ErrChainBroken)
			assert.Contains(t, err.Error(), "PurgeExcised", "interrupted at %d", n)
			rep, cerr := dcbackup.Check(ctx, "db", store, nil)
			require.NoError(t, cerr)
			require.NotEmpty(t, rep.Problems)
			assert.Contains(t, rep.Problems[0].Err.Error(), "PurgeExcised")
		} else {
			requireRestoresIdentically(t, store, src)
		}

		_, err = dcbackup.PurgeExcised(ctx, "db", src, store, purgeOpts)
		require.NoError(t, err, "rerun after interruption at %d", n)
		assert.False(t, storeHolds(t, store, "secret-05-xyzzy"), "purged after interruption at %d", n)
		rep, err := dcbackup.Check(ctx, "db", store, nil)
		require.NoError(t, err)
		require.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
		requireRestoresIdentically(t, store, src)
	}
	if someRefused {
		assert.Positive(t, refused)
	} else {
		assert.Zero(t, refused)
	}
}

// PurgeExcised refuses a store with a gap before the excision, whose
// later segments it could not compare with the source as one chain,
// instead of reporting them purged; after Repair it purges them.
func TestPurgeExcisedRefusesAGap(t *testing.T) {
	ctx := testCtx(t)
	src, ids, _ := notesSource(t, 10, false)
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 2, Encode: dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone}}
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, opts)
	excise(t, src, ids[7])
	backupNextAll(t, src, store, opts)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.NoError(t, store.Delete(ctx, "db", segs[1]))

	_, err = dcbackup.PurgeExcised(ctx, "db", src, store, opts)
	require.ErrorIs(t, err, dcbackup.ErrGap)
	assert.Contains(t, err.Error(), fmt.Sprintf("[%d, %d)", segs[1].StartT, segs[1].EndT))
	assert.True(t, storeHolds(t, store, "secret-07-xyzzy"))
	left, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	assert.Len(t, left, len(segs)-1, "nothing written or deleted")

	_, err = dcbackup.Repair(ctx, "db", src, store, opts)
	require.NoError(t, err)
	pr, err := dcbackup.PurgeExcised(ctx, "db", src, store, opts)
	require.NoError(t, err)
	assert.Positive(t, pr.Stale)
	assert.False(t, storeHolds(t, store, "secret-07-xyzzy"))
	requireRestoresIdentically(t, store, src)
}

// Overlaps another writer left beside the chain are each checked: one
// holding nothing excised (before the excised data) does not end the
// search, and the one that holds it is deleted.
func TestPurgeExcisedChecksEveryOverlap(t *testing.T) {
	ctx := testCtx(t)
	src, ids, _ := notesSource(t, 16, false)
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 2, Encode: dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone}}
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, opts)
	// Another writer's segments, of the same history, off the chain: one
	// before the secret, one holding it.
	for _, r := range [][2]int64{{3, 4}, {10, 12}} {
		info, data := segmentOf(t, src, r[0], r[1], opts)
		require.NoError(t, store.Save(ctx, "db", info, data))
	}
	require.True(t, storeHolds(t, store, "secret-09-xyzzy"))
	excise(t, src, ids[9])
	backupNextAll(t, src, store, opts)

	_, err := dcbackup.PurgeExcised(ctx, "db", src, store, opts)
	require.NoError(t, err)
	assert.False(t, storeHolds(t, store, "secret-09-xyzzy"), "in no segment, overlaps included")
	rep, err := dcbackup.Check(ctx, "db", store, nil)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
	requireRestoresIdentically(t, store, src)
}

// A segment lost after the source excised data from it: Repair and Backup
// back its range up from the source, whose transactions there now differ
// from the ones the segments after it continue from. They used to stop
// with ErrChainBroken (and a message pointing at PurgeExcised, which then
// found nothing to do); they move those segments aside and back them up
// again too.
func TestRepairOfALostSegmentAfterAnExcision(t *testing.T) {
	for _, call := range []struct {
		name string
		run  func(context.Context, string, datomic.Conn, dcbackup.BackupStore, *dcbackup.BackupOptions) (dcbackup.BackupResult, error)
	}{{"Repair", dcbackup.Repair}, {"Backup", dcbackup.Backup}} {
		t.Run(call.name, func(t *testing.T) {
			ctx := testCtx(t)
			src, ids, _ := notesSource(t, 12, false)
			opts := &dcbackup.BackupOptions{MaxTxPerSegment: 2}
			store := dcbackup.NewMemStore()
			backupNextAll(t, src, store, opts)
			excise(t, src, ids[4], ids[6])
			backupNextAll(t, src, store, opts)
			segs, err := store.List(ctx, "db", 0)
			require.NoError(t, err)
			require.NoError(t, store.Delete(ctx, "db", segs[2]))

			res, err := call.run(ctx, "db", src, store, opts)
			require.NoError(t, err)
			assert.Positive(t, res.Healed)
			rep, err := dcbackup.Check(ctx, "db", store, nil)
			require.NoError(t, err)
			require.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
			requireRestoresIdentically(t, store, src)
		})
	}
}

// Many lost segments after an excision that changed every transaction:
// every range backed up again is followed by a stale segment. One Backup
// moves them all aside and backs them up again (it used to handle one per
// round and give up with ErrChainBroken after 16).
func TestBackupAfterAnExcisionOfEverythingAndManyLostSegments(t *testing.T) {
	ctx := testCtx(t)
	src, ids, _ := notesSource(t, 80, false)
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 2, Concurrency: 4}
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, opts)
	excise(t, src, ids...)
	backupNextAll(t, src, store, opts)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	lost := 0
	for i := 1; i < len(segs)-2; i += 2 {
		require.NoError(t, store.Delete(ctx, "db", segs[i]))
		lost++
	}
	require.Greater(t, lost, 16)

	res, err := dcbackup.Backup(ctx, "db", src, store, opts)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, res.Healed, lost-1)
	rep, err := dcbackup.Check(ctx, "db", store, nil)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
	requireRestoresIdentically(t, store, src)
}

// Random histories cut at random points (empty segments included),
// random excisions, a lost segment refilled by Backup, then PurgeExcised:
// the store checks OK and restores identically (120 seeds). A store was
// left whose segment after a purged run still continued the old history,
// which restores refused (seed 66).
func TestPurgeExcisedLeavesARestorableStore(t *testing.T) {
	for seed := range uint64(120) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ctx := testCtx(t)
			r := rand.New(rand.NewPCG(seed, 9))
			src, ids, _ := notesSource(t, 6+r.IntN(18), r.IntN(2) == 0)
			for range r.IntN(6) { // updates of existing notes
				_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{datomic.DBID: ids[r.IntN(len(ids))], "p/note": fmt.Sprint("update-", r.Int())}})
				require.NoError(t, err)
			}
			opts := &dcbackup.BackupOptions{MaxTxPerSegment: 1 + r.IntN(4), Encode: dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone}}
			store := dcbackup.NewMemStore()
			if r.IntN(2) == 0 {
				start, basis := int64(0), basisT(t, src)
				for start <= basis {
					end := min(start+1+r.Int64N(4), basis+1)
					_, err := dcbackup.BackupSegment(ctx, "db", src, store, start, end, opts)
					require.NoError(t, err)
					start = end
				}
			} else {
				backupNextAll(t, src, store, opts)
			}
			for range 1 + r.IntN(3) {
				_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/excise": ids[r.IntN(len(ids))]}})
				require.NoError(t, err)
			}
			if segs, err := store.List(ctx, "db", 0); err == nil && len(segs) > 2 && r.IntN(2) == 0 {
				require.NoError(t, store.Delete(ctx, "db", segs[r.IntN(len(segs)-1)]))
			}
			_, err := dcbackup.Backup(ctx, "db", src, store, opts)
			require.NoError(t, err)
			_, err = dcbackup.PurgeExcised(ctx, "db", src, store, opts)
			require.NoError(t, err)
			rep, err := dcbackup.Check(ctx, "db", store, nil)
			require.NoError(t, err)
			require.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
			requireRestoresIdentically(t, store, src)
		})
	}
}
