package mem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// userDatoms drops the transaction's :db/txInstant datom.
func userDatoms(ds []datomic.Datom) []datomic.Datom {
	var out []datomic.Datom
	for _, d := range ds {
		if d.A != 50 {
			out = append(out, d)
		}
	}
	return out
}

func TestCardinalityOneImplicitRetraction(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "old"})
	a := rep.Tempids["a"]
	name, _, _ := mustDB(t, c).Entid(context.Background(), "person/name")
	rep = mustTx(t, c, datomic.Add{E: a, A: kw("person/name"), V: "new"})
	want := []datomic.Datom{
		{E: a, A: name, V: "old", Tx: rep.TxID(), Added: false},
		{E: a, A: name, V: "new", Tx: rep.TxID(), Added: true},
	}
	assert.Equal(t, want, userDatoms(rep.TxData))
	txs := logTxs(t, c)
	assert.Equal(t, want, userDatoms(txs[len(txs)-1].Datoms), "the log carries the implicit retraction")
	assert.Equal(t, []any{"new"}, current(t, c, a, "person/name"))
}

func TestExplicitRetractPlusAdd(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	a := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "old"}).Tempids["a"]
	for _, ops := range [][]datomic.Op{
		{datomic.Retract{E: a, A: kw("person/name"), V: "old"}, datomic.Add{E: a, A: kw("person/name"), V: "new"}},
		{datomic.Add{E: a, A: kw("person/name"), V: "newer"}, datomic.Retract{E: a, A: kw("person/name"), V: "new"}},
	} {
		rep, err := c.Transact(context.Background(), ops)
		require.NoError(t, err)
		assert.Len(t, userDatoms(rep.TxData), 2)
	}
	assert.Equal(t, []any{"newer"}, current(t, c, a, "person/name"))
}

func TestCardinalityOneConflict(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	before := c.Stats()
	_, err := c.Transact(context.Background(), []datomic.Op{
		datomic.Add{E: datomic.TempID("a"), A: kw("person/name"), V: "x"},
		datomic.Add{E: datomic.TempID("a"), A: kw("person/name"), V: "y"},
	})
	require.ErrorIs(t, err, datomic.ErrDatomsConflict)
	var de *datomic.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 1, de.Op)
	assert.Equal(t, before, c.Stats())
	// The same value twice is fine and gives one datom.
	rep := mustTx(t, c,
		datomic.Add{E: datomic.TempID("a"), A: kw("person/name"), V: "x"},
		datomic.Add{E: datomic.TempID("a"), A: kw("person/name"), V: "x"})
	assert.Len(t, userDatoms(rep.TxData), 1)
	// Asserting and retracting one datom conflicts.
	a := rep.Tempids["a"]
	_, err = c.Transact(context.Background(), []datomic.Op{
		datomic.Add{E: a, A: kw("person/name"), V: "x"}, datomic.Retract{E: a, A: kw("person/name"), V: "x"}})
	require.ErrorIs(t, err, datomic.ErrDatomsConflict)
}

func TestRedundantAndAbsent(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	a := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "x", "person/tags": []any{kw("t")}}).Tempids["a"]
	before := c.Stats()
	rep := mustTx(t, c,
		datomic.Add{E: a, A: kw("person/name"), V: "x"},
		datomic.Add{E: a, A: kw("person/tags"), V: kw("t")},
		datomic.Retract{E: a, A: kw("person/age"), V: int64(9)},
		datomic.Retract{E: a, A: kw("person/name"), V: "not-it"},
	)
	assert.Empty(t, userDatoms(rep.TxData), "redundant assertions and absent retractions produce no datoms")
	assert.Greater(t, rep.BasisAfter, before.BasisT, "the transaction still happens")
	assert.Len(t, logTxs(t, c), 3)
}

func TestCardinalityManySet(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	a := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/tags": []any{kw("x"), kw("y")}}).Tempids["a"]
	rep := mustTx(t, c, datomic.EntityMap{"db/id": a, "person/tags": []any{kw("y"), kw("z")}})
	assert.Len(t, userDatoms(rep.TxData), 1, "only z is new; y is redundant; x stays")
	assert.ElementsMatch(t, []any{kw("x"), kw("y"), kw("z")}, current(t, c, a, "person/tags"))
	mustTx(t, c, datomic.Retract{E: a, A: kw("person/tags"), V: kw("x")})
	assert.ElementsMatch(t, []any{kw("y"), kw("z")}, current(t, c, a, "person/tags"))
	// Retract without a value retracts them all.
	rep = mustTx(t, c, datomic.Retract{E: a, A: kw("person/tags")})
	assert.Len(t, userDatoms(rep.TxData), 2)
	assert.Empty(t, current(t, c, a, "person/tags"))
}

func TestCAS(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	a := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "x"}).Tempids["a"]
	// nil Old: no current value.
	mustTx(t, c, datomic.CAS{E: a, A: kw("person/age"), Old: nil, New: int64(1)})
	_, err := c.Transact(ctx, []datomic.Op{datomic.CAS{E: a, A: kw("person/age"), Old: nil, New: int64(2)}})
	require.ErrorIs(t, err, datomic.ErrCASFailed)
	rep := mustTx(t, c, datomic.CAS{E: a, A: kw("person/age"), Old: int64(1), New: int64(2)})
	assert.Len(t, userDatoms(rep.TxData), 2)
	before := c.Stats()
	_, err = c.Transact(ctx, []datomic.Op{
		datomic.Add{E: a, A: kw("person/name"), V: "changed"},
		datomic.CAS{E: a, A: kw("person/age"), Old: int64(1), New: int64(3)}})
	require.ErrorIs(t, err, datomic.ErrCASFailed)
	var de *datomic.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 1, de.Op)
	assert.Equal(t, before, c.Stats())
	assert.Equal(t, []any{"x"}, current(t, c, a, "person/name"))
	assert.Equal(t, []any{int64(2)}, current(t, c, a, "person/age"))
	// Refs compare by id, given as idents.
	mustTx(t, c, datomic.CAS{E: a, A: kw("person/kind"), Old: nil, New: kw("kind/human")})
	mustTx(t, c, datomic.CAS{E: a, A: kw("person/kind"), Old: kw("kind/human"), New: kw("kind/robot")})
}

func TestRetractEntity(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "A", "person/email": "a@x",
			"person/address": datomic.EntityMap{"address/street": "S"}},
		datomic.EntityMap{"db/id": datomic.TempID("b"), "person/name": "B", "person/friend": datomic.TempID("a"),
			"person/spouse": datomic.TempID("a")},
	)
	a, b := rep.Tempids["a"], rep.Tempids["b"]
	addr := current(t, c, a, "person/address")[0].(int64)
	rep = mustTx(t, c, datomic.RetractEntity{E: datomic.LookupRef{A: kw("person/email"), V: "a@x"}})
	for _, d := range userDatoms(rep.TxData) {
		assert.False(t, d.Added)
	}
	assert.Len(t, userDatoms(rep.TxData), 6) // 3 of a, 1 of addr, 2 refs from b
	db := mustDB(t, c)
	for _, e := range []int64{a, addr} {
		n := 0
		for range db.Datoms(context.Background(), datomic.EAVT, e) {
			n++
		}
		assert.Zero(t, n)
	}
	assert.Empty(t, current(t, c, b, "person/friend"))
	assert.Equal(t, []any{"B"}, current(t, c, b, "person/name"))
}

func mustDB(t *testing.T, c *Conn) datomic.DB {
	t.Helper()
	db, err := c.DB(context.Background())
	require.NoError(t, err)
	return db
}
