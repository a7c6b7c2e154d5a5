package peer_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func TestConnectAndBasis(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	memID, err := e.mem.DatabaseID(ctx)
	require.NoError(t, err)
	assert.Equal(t, memID, mustID(t, e.conn), "the :database-id is the served database's id")
	want, err := e.mem.DB(ctx)
	require.NoError(t, err)
	db, err := e.conn.DB(ctx)
	require.NoError(t, err)
	assert.Equal(t, want.BasisT(), db.BasisT())
	assert.Equal(t, 1, e.srv.Requests("datomic.catalog/resolve-db"))
	assert.Equal(t, 2, e.srv.Requests("status"))
}

func TestTransactEveryValueType(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)

	u, _ := datomic.ParseUUID("5f0c4d5e-1b7a-4c5d-9e8f-0123456789ab")
	dec, _ := datomic.ParseBigDec("1.50")
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	inst := lastInstant(t, e).Add(time.Millisecond)
	rep, err := e.conn.Transact(ctx, []datomic.Op{
		datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: inst},
		datomic.EntityMap{
			"db/id":       datomic.TempID("ann"),
			"t/string":    "~Ann^",
			"t/long":      int64(1) << 60,
			"t/float":     float32(0.1),
			"t/double":    2.5,
			"t/bigint":    huge,
			"t/bigdec":    dec,
			"t/instant":   time.Date(1970, 1, 1, 0, 0, 0, 5e6, time.UTC),
			"t/uuid":      u,
			"t/uri":       datomic.URI("https://example.com/"),
			"t/bytes":     []byte{0, 1, 255},
			"t/keyword":   []any{kw("a/b"), kw("c")},
			"t/symbol":    datomic.Symbol("sym"),
			"t/boolean":   false,
			"t/ref":       []any{datomic.TempID("bob"), kw("color/red")},
			"t/component": datomic.EntityMap{"t/string": "part"},
			"t/pair":      datomic.Tuple{int64(1), int64(2)},
			"t/mixed":     datomic.Tuple{"x", float64(1.25)},
		},
		datomic.Add{E: datomic.TempID("bob"), A: kw("t/string"), V: "Bob"},
		datomic.Add{E: datomic.TempID("bob"), A: kw("t/ref"), V: datomic.TempID("ann")},
	})
	require.NoError(t, err)
	assert.Equal(t, rep.BasisAfter, datomic.ToT(rep.TxID()))
	assert.Greater(t, rep.BasisAfter, rep.BasisBefore)
	require.Contains(t, rep.Tempids, datomic.TempID("ann"))
	require.Contains(t, rep.Tempids, datomic.TempID("bob"))

	// The engine's log and the log read through the server agree exactly,
	// value types included.
	requireSameTxs(t, collectTxs(t, e.mem, 0, 0), collectTxs(t, e.conn, 0, 0))
	txs := collectTxs(t, e.conn, rep.BasisAfter, 0)
	require.Len(t, txs, 1)
	requireSameDatoms(t, rep.TxData, txs[0].Datoms)
	for _, d := range txs[0].Datoms {
		if d.A == mustEntid(t, e, "db/txInstant") {
			assert.Equal(t, inst, d.V)
		}
	}
}

// lastInstant is the :db/txInstant of the latest transaction.
func lastInstant(t *testing.T, e *env) time.Time {
	t.Helper()
	txs := collectTxs(t, e.mem, 0, 0)
	require.NotEmpty(t, txs)
	last := txs[len(txs)-1]
	for _, d := range last.Datoms {
		if d.E == last.ID() {
			if v, ok := d.V.(time.Time); ok {
				return v
			}
		}
	}
	t.Fatal("no txInstant")
	return time.Time{}
}

func mustEntid(t *testing.T, e *env, ident kw) int64 {
	t.Helper()
	db, err := e.conn.DB(context.Background())
	require.NoError(t, err)
	id, ok, err := db.Entid(context.Background(), ident)
	require.NoError(t, err)
	require.True(t, ok, "no entity %v", ident)
	return id
}

func TestTxRangePagination(t *testing.T) {
	e := newEnv(t, func(c *cfgT) { c.TxRangeChunk = 7 })
	ctx := context.Background()
	_, err := e.mem.Transact(ctx, schema())
	require.NoError(t, err)
	for i := range 250 {
		_, err := e.mem.Transact(ctx, []datomic.Op{
			datomic.Add{E: datomic.TempID("x"), A: kw("t/long"), V: int64(i)},
			datomic.Add{E: datomic.TempID("x"), A: kw("t/string"), V: "s" + string(rune('a'+i%26)) + itoa(i)},
		})
		require.NoError(t, err)
	}
	want := collectTxs(t, e.mem, 0, 0)
	got := collectTxs(t, e.conn, 0, 0)
	requireSameTxs(t, want, got)
	assert.Equal(t, 1, e.srv.Requests("tx-range"))
	// Value types come from one bulk read plus an ident lookup per value type.
	assert.LessOrEqual(t, e.srv.Requests("datoms"), 30)
	assert.Equal(t, (len(want)-1)/7, e.srv.Requests("next"))

	// A bounded range, [start, end).
	mid := want[100].T
	end := want[110].T
	requireSameTxs(t, want[100:110], collectTxs(t, e.conn, mid, end))

	// Stopping early sends no further requests.
	before := e.srv.Requests("next")
	n := 0
	for _, err := range e.conn.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		n++
		if n == 10 {
			break
		}
	}
	assert.Equal(t, before+1, e.srv.Requests("next"))
}

func TestTransactRejected(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("a"), A: kw("t/string"), V: "x"}})
	require.NoError(t, err)
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("b"), A: kw("t/long"), V: "not a long"}})
	require.Error(t, err)
	assert.ErrorIs(t, err, datomic.ErrWrongType)
	assert.ErrorIs(t, err, datomic.ErrIncorrect)
	assert.Contains(t, err.Error(), "transact")

	db, err := e.conn.DB(ctx)
	require.NoError(t, err)
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}})
	assert.ErrorIs(t, err, datomic.ErrPastTxInstant)
	db2, err := e.conn.DB(ctx)
	require.NoError(t, err)
	assert.Equal(t, db.BasisT(), db2.BasisT(), "a rejected transaction changes nothing")
}

func TestDBReads(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)
	rep, err := e.conn.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"db/id": datomic.TempID("a"), "t/string": "a", "t/long": int64(3), "t/float": float32(1.5),
			"t/mixed": datomic.Tuple{"m", float64(2.5)}},
		datomic.EntityMap{"db/id": datomic.TempID("b"), "t/string": "b", "t/long": int64(1), "t/ref": []any{datomic.TempID("a")}},
		datomic.EntityMap{"db/id": datomic.TempID("c"), "t/string": "c", "t/long": int64(2)},
	})
	require.NoError(t, err)
	a := rep.Tempids["a"]
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.Add{E: a, A: kw("t/long"), V: int64(9)}})
	require.NoError(t, err)

	mdb, err := e.mem.DB(ctx)
	require.NoError(t, err)
	pdb, err := e.conn.DB(ctx)
	require.NoError(t, err)
	require.Equal(t, mdb.BasisT(), pdb.BasisT())

	for _, ident := range []kw{"t/string", "t/float", "t/mixed", "t/pair", "t/ref", "t/component", "t/keyword", "t/note", "db/ident", "db/txInstant"} {
		want, ok, err := mdb.Attribute(ctx, ident)
		require.NoError(t, err)
		require.True(t, ok)
		got, ok, err := pdb.Attribute(ctx, ident)
		require.NoError(t, err)
		require.True(t, ok, ident)
		assert.Equal(t, want, got, ident)
		byID, ok, err := pdb.Attribute(ctx, want.ID)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, want, byID)
		name, ok, err := pdb.Ident(ctx, want.ID)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, ident, name)
	}
	_, ok, err := pdb.Attribute(ctx, kw("no/such"))
	require.NoError(t, err)
	assert.False(t, ok)
	_, ok, err = pdb.Attribute(ctx, a)
	require.NoError(t, err)
	assert.False(t, ok, "an ordinary entity is not an attribute")
	_, ok, err = pdb.Ident(ctx, a)
	require.NoError(t, err)
	assert.False(t, ok)
	_, ok, err = pdb.Entid(ctx, kw("no/such"))
	require.NoError(t, err)
	assert.False(t, ok)

	collect := func(db datomic.DB, idx datomic.Index, comps ...any) []datomic.Datom {
		var out []datomic.Datom
		for d, err := range db.Datoms(ctx, idx, comps...) {
			require.NoError(t, err)
			out = append(out, d)
		}
		return out
	}
	requireSameDatoms(t, collect(mdb, datomic.EAVT, a), collect(pdb, datomic.EAVT, a))
	requireSameDatoms(t, collect(mdb, datomic.AVET, kw("t/string")), collect(pdb, datomic.AVET, kw("t/string")))
	requireSameDatoms(t, collect(mdb, datomic.AVET, kw("t/string"), "b"), collect(pdb, datomic.AVET, kw("t/string"), "b"))
	requireSameDatoms(t, collect(mdb, datomic.AEVT, kw("t/long")), collect(pdb, datomic.AEVT, kw("t/long")))
	requireSameDatoms(t, collect(mdb, datomic.VAET, a), collect(pdb, datomic.VAET, a))
	got := collect(pdb, datomic.EAVT, a, kw("t/float"))
	require.Len(t, got, 1)
	assert.Equal(t, float32(1.5), got[0].V)

	old := pdb.AsOf(rep.BasisAfter)
	requireSameDatoms(t, collect(mdb.AsOf(rep.BasisAfter), datomic.EAVT, a), collect(old, datomic.EAVT, a))

	rng := func(db datomic.DB, start, end any) []datomic.Datom {
		var out []datomic.Datom
		for d, err := range db.IndexRange(ctx, kw("t/long"), start, end) {
			require.NoError(t, err)
			out = append(out, d)
		}
		return out
	}
	requireSameDatoms(t, rng(mdb, int64(2), int64(9)), rng(pdb, int64(2), int64(9)))
	requireSameDatoms(t, rng(mdb, nil, nil), rng(pdb, nil, nil))
	assert.Len(t, rng(pdb, nil, nil), 3)
}
