package dcbackup_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/histgen"
	"github.com/stretchr/testify/require"
)

// stepClock is a deterministic clock that moves a minute per reading, so
// that generated explicit instants (a few seconds after the latest) are
// never in the future.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func newStepClock() *stepClock {
	return &stepClock{t: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

// newSource returns a mem database with a random history of n transactions.
func newSource(t testing.TB, seed uint64, n int, shared bool) *mem.Conn {
	t.Helper()
	conn := mem.New(mem.Options{Clock: newStepClock().Now, SharedCounter: shared})
	st, err := histgen.Generate(context.Background(), conn, histgen.Config{Seed: seed, Txs: n})
	require.NoError(t, err)
	require.Greater(t, st.Committed, n/2, "most generated transactions must commit")
	return conn
}

// newTarget returns an empty mem database whose bootstrap ids differ from
// the default layout, so that a restore mapping bootstrap entities by id
// instead of by ident fails.
func newTarget() *mem.Conn {
	return mem.New(mem.Options{BootstrapShift: 1000, ExtraBuiltins: true})
}

func requireVerified(t testing.TB, source, target datomic.Conn) dcbackup.VerifyReport {
	t.Helper()
	rep, err := dcbackup.Verify(context.Background(), source, target, nil)
	require.NoError(t, err)
	require.True(t, rep.OK(), "differences: %v", rep.Differences)
	return rep
}

func basisT(t testing.TB, conn datomic.Conn) int64 {
	t.Helper()
	db, err := conn.DB(context.Background())
	require.NoError(t, err)
	return db.BasisT()
}

func logLen(t testing.TB, conn datomic.Conn) (txs, datoms int) {
	t.Helper()
	for tx, err := range conn.TxRange(context.Background(), 0, 0) {
		require.NoError(t, err)
		txs++
		datoms += len(tx.Datoms)
	}
	return txs, datoms
}

// requireRestoresIdentically checks that store holds db's backup without a
// gap, restores it into a fresh target with another bootstrap layout, and
// verifies the target against source, transaction for transaction.
func requireRestoresIdentically(t testing.TB, store dcbackup.BackupStore, source datomic.Conn) (datomic.Conn, dcbackup.RestoreResult) {
	t.Helper()
	ctx := context.Background()
	gaps, err := dcbackup.Gaps(ctx, "db", store)
	require.NoError(t, err)
	require.Empty(t, gaps)
	target := newTarget()
	res, err := dcbackup.Restore(ctx, "db", store, target, nil)
	require.NoError(t, err)
	srcTxs, _ := logLen(t, source)
	require.Equal(t, srcTxs, res.Transactions)
	rep := requireVerified(t, source, target)
	require.Equal(t, srcTxs, rep.Transactions)
	return target, res
}

// copySegments copies the segments of database "db" in from into a new
// store under database name db. edit may change a segment's bytes (it gets
// a copy) or return nil to leave the segment out; it gets the segment's
// index in the listing.
func copySegments(t testing.TB, from dcbackup.BackupStore, db string, edit func(i int, s dcbackup.SegmentInfo, data []byte) []byte) *dcbackup.MemStore {
	t.Helper()
	ctx := context.Background()
	segs, err := from.List(ctx, "db", 0)
	require.NoError(t, err)
	to := dcbackup.NewMemStore()
	for i, s := range segs {
		data, err := from.Load(ctx, "db", s)
		require.NoError(t, err)
		data = append([]byte(nil), data...)
		if edit != nil {
			data = edit(i, s, data)
		}
		if data != nil {
			require.NoError(t, to.Save(ctx, db, s, data))
		}
	}
	return to
}

// requireRestoreRefused restores store's "db" into target and requires the
// restore to fail with want and leave the target's basis unchanged.
func requireRestoreRefused(t testing.TB, store dcbackup.BackupStore, target datomic.Conn, want error) error {
	t.Helper()
	before := basisT(t, target)
	_, err := dcbackup.Restore(context.Background(), "db", store, target, nil)
	require.ErrorIs(t, err, want)
	require.Equal(t, before, basisT(t, target), "target untouched")
	return err
}

// testCtx returns a context that ends when the test does or after a
// minute, so that a regression hangs no wait in a test past that.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// backupNextAll calls BackupNext until the store is up to date, with a
// bound on the number of calls.
func backupNextAll(t testing.TB, conn datomic.Conn, store dcbackup.BackupStore, opts *dcbackup.BackupOptions) {
	t.Helper()
	for range 10000 {
		res, err := dcbackup.BackupNext(testCtx(t), "db", conn, store, opts)
		require.NoError(t, err)
		if !res.More {
			return
		}
	}
	t.Fatal("BackupNext did not catch up in 10000 calls")
}

// notesSource returns a source with a string attribute :p/note and n
// notes, one per transaction ("secret-00-xyzzy", ...: storeHolds finds
// them in an uncompressed store), with their entity ids and ts. Without a
// shared counter the schema is t 1 and note i is t i+2.
func notesSource(t *testing.T, n int, shared bool) (*mem.Conn, []int64, []int64) {
	t.Helper()
	ctx := testCtx(t)
	src := mem.New(mem.Options{Clock: newStepClock().Now, SharedCounter: shared})
	_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/ident": datomic.Keyword("p/note"),
		"db/valueType": datomic.Keyword("db.type/string"), "db/cardinality": datomic.Keyword("db.cardinality/one")}})
	require.NoError(t, err)
	var ids, ts []int64
	for i := range n {
		rep, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{datomic.DBID: datomic.TempID("p"), "p/note": fmt.Sprintf("secret-%02d-xyzzy", i)}})
		require.NoError(t, err)
		ids, ts = append(ids, rep.Tempids["p"]), append(ts, basisT(t, src))
	}
	return src, ids, ts
}

// excise excises entities ids of src in one transaction.
func excise(t *testing.T, src datomic.Conn, ids ...int64) {
	t.Helper()
	ops := make([]datomic.Op, len(ids))
	for i, id := range ids {
		ops[i] = datomic.EntityMap{"db/excise": id}
	}
	_, err := src.Transact(testCtx(t), ops)
	require.NoError(t, err)
}
