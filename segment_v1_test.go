package dcbackup_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
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

func osReadFile(t *testing.T, name string) ([]byte, error) {
	t.Helper()
	return os.ReadFile(filepath.FromSlash(name))
}

// TestSegmentV1Example decodes the example of version 1's specification.
func TestSegmentV1Example(t *testing.T) {
	data, err := hex.DecodeString("4443425301000100" + "2a00000000000000" +
		"8c" + "626462" + "0a140101" +
		"818918326c" + hex.EncodeToString([]byte("db/txInstant")) + "0b01000080" + "0040" +
		"80" + "420001" + "4103" + "40" + "4102" + "40" +
		"a9b9aa1b")
	require.NoError(t, err)
	got, err := dcbackup.DecodeSegment(data, dcbackup.SegmentInfo{StartT: 10, EndT: 20}, dcbackup.DecodeOptions{})
	require.NoError(t, err)
	tx := datomic.TxID(10)
	requireSameSegment(t, &dcbackup.Segment{DB: "db", StartT: 10, EndT: 20,
		Attrs:  map[int64]datomic.Attribute{50: {ID: 50, Ident: "db/txInstant", ValueType: datomic.TypeInstant, Cardinality: datomic.CardinalityOne}},
		Idents: map[int64]datomic.Keyword{},
		Txs:    []datomic.Tx{{T: 10, Datoms: []datomic.Datom{{E: tx, A: 50, V: time.UnixMilli(1).UTC(), Tx: tx, Added: true}}}}}, got)
	assert.Equal(t, 1, got.Version)
	assert.False(t, got.HasLinks())
}

// A store written by version 1 and continued by this version, with one of
// its version 1 segments replaced by another database's: version 1
// segments, which predate lineages, count as the store's, so Backup
// moves the stray segment aside (counting only the version 2 ones, half
// the store was another database's and Backup refused it).
func TestV1StoreWithAStraySegmentOfAnotherDatabase(t *testing.T) {
	ctx := testCtx(t)
	v1, err := dcbackup.NewFSStore(filepath.Join("testdata", "store-v1"))
	require.NoError(t, err)
	store := copySegments(t, v1, "db", nil)
	source := newSource(t, 21, 60, true)
	for range 3 {
		_, err := source.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: datomic.Keyword("db/doc"), V: "later"}})
		require.NoError(t, err)
	}
	backupNextAll(t, source, store, nil)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 3)
	other := newSource(t, 22, 60, true)
	stray := segs[1]
	info, data := segmentOf(t, other, stray.StartT, stray.EndT)
	require.NoError(t, store.Delete(ctx, "db", stray))
	require.NoError(t, store.Save(ctx, "db", info, data))

	res, err := dcbackup.Backup(ctx, "db", source, store, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Healed)
	requireRestoresIdentically(t, store, source)
}

// v1StoreContinued returns testdata's version 1 store (source: seed 21)
// continued by version 2 segments of its source, and that source.
func v1StoreContinued(t *testing.T) (*dcbackup.MemStore, datomic.Conn) {
	t.Helper()
	ctx := testCtx(t)
	v1, err := dcbackup.NewFSStore(filepath.Join("testdata", "store-v1"))
	require.NoError(t, err)
	store := copySegments(t, v1, "db", nil)
	source := newSource(t, 21, 60, true)
	for range 3 {
		_, err := source.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: datomic.Keyword("db/doc"), V: "later"}})
		require.NoError(t, err)
	}
	backupNextAll(t, source, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
	return store, source
}

// Another database as the source of a version 1 store continued by
// version 2 segments: Backup and Repair refuse it and move nothing. The
// version 1 segments, which carry no lineage, counted as the caller's, so
// the store's own version 2 segments were moved aside before the refusal.
func TestV1StoreRefusesAnotherDatabaseAndMovesNothing(t *testing.T) {
	ctx := testCtx(t)
	store, _ := v1StoreContinued(t)
	other := newSource(t, 22, 60, true)
	for _, call := range []func(context.Context, string, datomic.Conn, dcbackup.BackupStore, *dcbackup.BackupOptions) (dcbackup.BackupResult, error){dcbackup.Backup, dcbackup.Repair} {
		cp := copySegments(t, store, "db", nil)
		before := storeBytes(t, cp)
		res, err := call(ctx, "db", other, cp, nil)
		require.ErrorIs(t, err, dcbackup.ErrSourceMismatch)
		assert.Zero(t, res.Healed)
		assert.Equal(t, before, storeBytes(t, cp))
	}
}

// BackupSegment from another database after a version 1 store's last
// segment is refused: the link to that segment, which has no lineage, is
// compared with the source by content (it was not, and another database's
// history was appended to the store).
func TestBackupSegmentAfterAV1StoreChecksTheSource(t *testing.T) {
	ctx := testCtx(t)
	v1, err := dcbackup.NewFSStore(filepath.Join("testdata", "store-v1"))
	require.NoError(t, err)
	store := copySegments(t, v1, "db", nil)
	last, ok, err := store.Last(ctx, "db")
	require.NoError(t, err)
	require.True(t, ok)
	other := mem.New(mem.Options{Clock: newStepClock().Now, DatabaseID: "orders"})
	for basisT(t, other) < last.EndT+5 {
		_, err := other.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: datomic.Keyword("db/doc"), V: fmt.Sprint("t ", basisT(t, other))}})
		require.NoError(t, err)
	}
	before := storeBytes(t, store)
	_, err = dcbackup.BackupSegment(ctx, "db", other, store, last.EndT, basisT(t, other)+1, nil)
	require.ErrorIs(t, err, dcbackup.ErrSourceMismatch)
	assert.Equal(t, before, storeBytes(t, store))
}

// A version 1 store whose last segment another database's segment
// replaced: that database's Backup and Repair are refused (its lineage was
// the only one the store recorded, so they took the store for its own and
// continued it), and the store's own source moves the stray segment aside.
func TestV1StoreWithAStrayLastSegment(t *testing.T) {
	ctx := testCtx(t)
	v1, err := dcbackup.NewFSStore(filepath.Join("testdata", "store-v1"))
	require.NoError(t, err)
	store := copySegments(t, v1, "db", nil)
	source := newSource(t, 21, 60, true)
	other := newSource(t, 22, 60, true)
	for basisT(t, other) < basisT(t, source)+5 {
		_, err := other.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: datomic.Keyword("db/doc"), V: "other"}})
		require.NoError(t, err)
	}
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	stray := segs[len(segs)-1]
	info, data := segmentOf(t, other, stray.StartT, stray.EndT)
	require.NoError(t, store.Delete(ctx, "db", stray))
	require.NoError(t, store.Save(ctx, "db", info, data))

	for _, call := range []func(context.Context, string, datomic.Conn, dcbackup.BackupStore, *dcbackup.BackupOptions) (dcbackup.BackupResult, error){dcbackup.Backup, dcbackup.Repair} {
		cp := copySegments(t, store, "db", nil)
		before := storeBytes(t, cp)
		_, err := call(ctx, "db", other, cp, nil)
		require.ErrorIs(t, err, dcbackup.ErrSourceMismatch)
		assert.Equal(t, before, storeBytes(t, cp))
	}
	res, err := dcbackup.Backup(ctx, "db", source, store, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Healed)
	requireRestoresIdentically(t, store, source)
}
