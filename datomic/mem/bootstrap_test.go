package mem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func TestBootstrapDefaultIDs(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	db, err := c.DB(context.Background())
	require.NoError(t, err)
	ctx := context.Background()
	for ident, want := range map[kw]int64{
		"db.part/db": 0, "db/ident": 10, "db.install/attribute": 13, "db/valueType": 40,
		"db/cardinality": 41, "db/unique": 42, "db/txInstant": 50, "db/doc": 62,
		"db.type/uuid": 56, "db.cardinality/one": 35, "db.unique/identity": 38,
		"db.part/tx": 3, "db.part/user": 4,
	} {
		id, ok, err := db.Entid(ctx, ident)
		require.NoError(t, err)
		require.True(t, ok, ident)
		assert.Equal(t, want, id, ident)
	}
	for _, ident := range []kw{"db/ident", "db/valueType", "db/cardinality", "db/unique", "db/isComponent",
		"db/noHistory", "db/index", "db/fulltext", "db/doc", "db/txInstant", "db/tupleAttrs", "db/tupleType",
		"db/tupleTypes", "db.install/attribute", "db.install/partition", "db.alter/attribute"} {
		_, ok, err := db.Attribute(ctx, ident)
		require.NoError(t, err)
		assert.True(t, ok, ident)
	}
	a, _, _ := db.Attribute(ctx, kw("db.install/attribute"))
	assert.Equal(t, datomic.TypeRef, a.ValueType)
	assert.True(t, a.IsMany())
	a, _, _ = db.Attribute(ctx, kw("db/tupleAttrs"))
	assert.Equal(t, datomic.TypeTuple, a.ValueType)
	assert.Equal(t, datomic.TypeKeyword, a.TupleType)
	a, _, _ = db.Attribute(ctx, kw("db/ident"))
	assert.Equal(t, datomic.UniqueIdentity, a.Unique)
	for _, vt := range datomic.ValueTypes() {
		_, ok, _ := db.Entid(ctx, vt.Ident())
		assert.True(t, ok, vt)
	}

	// Bootstrap datoms carry tx TxID(0) and are not in the log.
	n := 0
	for d, err := range db.Datoms(ctx, datomic.EAVT, int64(10)) {
		require.NoError(t, err)
		assert.Equal(t, datomic.TxID(0), d.Tx)
		n++
	}
	assert.Positive(t, n)
	assert.Empty(t, logTxs(t, c))
	assert.Equal(t, int64(0), db.BasisT())
}

func TestBootstrapRuleFirstLoggedT(t *testing.T) {
	for _, shared := range []bool{false, true} {
		c, _ := newTestConn(t, Options{SharedCounter: shared})
		personSchema(t, c)
		txs := logTxs(t, c)
		require.Len(t, txs, 1)
		assert.GreaterOrEqual(t, txs[0].T, int64(1))
		// Every bootstrap ident was asserted before the first logged t.
		db, _ := c.DB(context.Background())
		for d, err := range db.Datoms(context.Background(), datomic.AEVT, kw("db/ident")) {
			require.NoError(t, err)
			boot := datomic.ToT(d.Tx) < txs[0].T
			assert.Equal(t, d.E <= 70, boot, "entity %d", d.E)
		}
	}
}

func TestBootstrapShiftAndExtras(t *testing.T) {
	ctx := context.Background()
	ids := func(opts Options) (ident, vt, user int64) {
		c, _ := newTestConn(t, opts)
		db, _ := c.DB(ctx)
		ident, _, _ = db.Entid(ctx, "db/ident")
		vt, _, _ = db.Entid(ctx, "db/valueType")
		user, _, _ = db.Entid(ctx, "db.part/user")
		p, _, _ := db.Entid(ctx, "db.part/db")
		assert.Equal(t, int64(0), p)
		// The engine still works with the layout.
		personSchema(t, c)
		rep := mustTx(t, c, datomic.EntityMap{"person/name": "x", "person/kind": kw("kind/robot")})
		assert.Len(t, rep.TxData, 3)
		return
	}
	i0, v0, u0 := ids(Options{})
	i1, v1, u1 := ids(Options{BootstrapShift: 100})
	assert.Equal(t, i0+100, i1)
	assert.Equal(t, v0+100, v1)
	assert.Equal(t, u0, u1, "partition ids are their indexes and are not shifted")
	assert.Equal(t, datomic.PartUser, u1)
	i2, v2, _ := ids(Options{ExtraBuiltins: true})
	assert.Equal(t, i0, i2)
	assert.NotEqual(t, v0-i0, v2-i2, "extra built-ins change the layout beyond a constant shift")
}

func TestCounters(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	r1 := mustTx(t, c, datomic.EntityMap{"person/name": "a"})
	r2 := mustTx(t, c, datomic.EntityMap{"person/name": "b"})
	assert.Equal(t, int64(2), r1.BasisAfter)
	assert.Equal(t, int64(3), r2.BasisAfter)
	assert.Equal(t, r1.BasisAfter, r2.BasisBefore)

	s, _ := newTestConn(t, Options{SharedCounter: true})
	personSchema(t, s)
	r1 = mustTx(t, s, datomic.EntityMap{"db/id": datomic.TempID("x"), "person/name": "a"}, datomic.EntityMap{"person/name": "b"})
	r2 = mustTx(t, s, datomic.EntityMap{"person/name": "c"})
	assert.GreaterOrEqual(t, r1.BasisBefore, int64(1000))
	assert.Greater(t, r2.BasisAfter-r1.BasisAfter, int64(1), "shared counter leaves gaps in t")
	assert.Equal(t, datomic.PartUser, datomic.Part(r1.Tempids["x"]))
	var ts []int64
	for _, tx := range logTxs(t, s) {
		ts = append(ts, tx.T)
	}
	assert.IsIncreasing(t, ts)
}
