package mem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func TestNoHistoryRecordedLogKept(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	mustTx(t, c, attrMap("m/marker", "long", "one", "db/noHistory", true))
	ctx := context.Background()
	a, ok, _ := mustDB(t, c).Attribute(ctx, kw("m/marker"))
	require.True(t, ok)
	assert.True(t, a.NoHistory)
	r1 := mustTx(t, c, datomic.CAS{E: datomic.TempID("m"), A: kw("m/marker"), Old: nil, New: int64(1)})
	m := r1.Tempids["m"]
	mustTx(t, c, datomic.CAS{E: m, A: kw("m/marker"), Old: int64(1), New: int64(2)})
	assert.Equal(t, []any{int64(2)}, current(t, c, m, "m/marker"))
	txs := logTxs(t, c)
	assert.Len(t, userDatoms(txs[len(txs)-1].Datoms), 2, "the log carries both datoms")
}

func TestStats(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	s0 := c.Stats()
	assert.Positive(t, s0.Datoms)
	assert.Equal(t, 0, s0.Transactions)
	personSchema(t, c)
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "x", "person/age": int64(1)})
	mustTx(t, c, datomic.Add{E: rep.Tempids["a"], A: kw("person/name"), V: "y"})
	s := c.Stats()
	assert.Equal(t, 3, s.Transactions)
	assert.Equal(t, rep.BasisAfter+1, s.BasisT)
	assert.Equal(t, s.Facts-1, s.Datoms-s0.Datoms+s0.Facts, "one retraction")
	n := 0
	for range mustDB(t, c).Datoms(context.Background(), datomic.EAVT) {
		n++
	}
	assert.Equal(t, s.Datoms, n)
}

func TestInvalidPositions(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	for _, op := range []datomic.Op{
		datomic.EntityMap{"db/id": datomic.EntityID(4, 999999), "person/name": "x"},
		datomic.EntityMap{"db/id": datomic.EntityID(7, 1), "person/name": "x"},
		datomic.EntityMap{"db/id": datomic.TxID(12345), "person/name": "x"},
	} {
		_, err := c.Transact(ctx, []datomic.Op{op})
		require.ErrorIs(t, err, datomic.ErrInvalidEntityID)
	}
	_, err := c.Transact(ctx, []datomic.Op{datomic.Add{E: 3.5, A: kw("person/name"), V: "x"}})
	require.ErrorIs(t, err, datomic.ErrInvalidOp)
	_, err = c.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: "person/name", V: "x"}})
	require.ErrorIs(t, err, datomic.ErrNotAnAttribute, "a string is not an attribute")
	_, err = c.Transact(ctx, []datomic.Op{datomic.EntityMap{"person/_name": int64(0)}})
	require.ErrorIs(t, err, datomic.ErrWrongType, "reverse of a non-ref attribute")
	// Annotating an earlier transaction is fine.
	rep := mustTx(t, c, datomic.EntityMap{"person/name": "x"})
	mustTx(t, c, datomic.Add{E: rep.TxID(), A: kw("db/doc"), V: "later note"})
}
