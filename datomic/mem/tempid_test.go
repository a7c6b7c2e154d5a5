package mem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func TestTempidsSameStringSameEntity(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	rep := mustTx(t, c,
		datomic.Add{E: datomic.TempID("p"), A: kw("person/name"), V: "P"},
		datomic.Add{E: datomic.TempID("p"), A: kw("person/age"), V: int64(3)},
		datomic.EntityMap{"db/id": datomic.TempID("q"), "person/spouse": datomic.TempID("p")},
	)
	p, q := rep.Tempids["p"], rep.Tempids["q"]
	assert.NotEqual(t, p, q)
	assert.Equal(t, datomic.PartUser, datomic.Part(p))
	assert.Equal(t, []any{int64(3)}, current(t, c, p, "person/age"))
	assert.Equal(t, []any{p}, current(t, c, q, "person/spouse"))
	assert.NotContains(t, rep.Tempids, datomic.TxTempID, "datomic.tx only when used")
}

func TestTxTempidIsTransaction(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TxTempID, "db/doc": "import batch 1"},
		datomic.EntityMap{"person/name": "x"},
	)
	assert.Equal(t, rep.TxID(), rep.Tempids[datomic.TxTempID])
	assert.Equal(t, []any{"import batch 1"}, current(t, c, rep.TxID(), "db/doc"))
	// A reference to the transaction from another entity.
	rep = mustTx(t, c, datomic.EntityMap{"person/name": "y", "person/spouse": datomic.TxTempID})
	assert.Equal(t, datomic.PartTx, datomic.Part(rep.Tempids[datomic.TxTempID]))
}

func TestTempidOnlyAsValueIsError(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	before := c.Stats()
	_, err := c.Transact(context.Background(), []datomic.Op{
		datomic.EntityMap{"person/name": "a", "person/spouse": datomic.TempID("ghost")},
	})
	require.ErrorIs(t, err, datomic.ErrTempidNotAnEntity)
	assert.Equal(t, before, c.Stats())
}

func TestEntityMapForms(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("ann"), "person/email": "ann@x", "person/name": "Ann",
			"person/tags":    []any{kw("a"), kw("b"), kw("a")},
			"person/kind":    kw("kind/human"),                                // ident as enum value
			"person/address": datomic.EntityMap{"address/street": "Main St"}}, // component
	)
	ann := rep.Tempids["ann"]
	db, _ := c.DB(ctx)
	kind, _, _ := db.Entid(ctx, "kind/human")
	assert.Equal(t, []any{kind}, current(t, c, ann, "person/kind"))
	assert.ElementsMatch(t, []any{kw("a"), kw("b")}, current(t, c, ann, "person/tags"))
	addr := current(t, c, ann, "person/address")
	require.Len(t, addr, 1)
	assert.Equal(t, []any{"Main St"}, current(t, c, addr[0].(int64), "address/street"))

	// Lookup refs in E and V positions, int64 ids, reverse attributes.
	rep = mustTx(t, c,
		datomic.Add{E: datomic.LookupRef{A: kw("person/email"), V: "ann@x"}, A: kw("person/age"), V: int64(30)},
		datomic.EntityMap{"db/id": datomic.TempID("carl"), "person/name": "Carl",
			"person/_friend": []any{ann, datomic.LookupRef{A: kw("person/email"), V: "ann@x"}}},
		datomic.EntityMap{"db/id": ann, "person/spouse": datomic.LookupRef{A: kw("person/email"), V: "ann@x"}},
	)
	carl := rep.Tempids["carl"]
	assert.Equal(t, []any{int64(30)}, current(t, c, ann, "person/age"))
	assert.Equal(t, []any{carl}, current(t, c, ann, "person/friend"))
	assert.Equal(t, []any{ann}, current(t, c, ann, "person/spouse"))
}

func TestLookupRefResolvesAgainstDBBefore(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	_, err := c.Transact(context.Background(), []datomic.Op{
		datomic.EntityMap{"person/email": "new@x"},
		datomic.EntityMap{"person/name": "Bob", "person/friend": datomic.LookupRef{A: kw("person/email"), V: "new@x"}},
	})
	require.ErrorIs(t, err, datomic.ErrNotAnEntity)
	var de *datomic.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 1, de.Op)
	assert.Contains(t, de.Message, "new@x")
	// A lookup ref on a non-unique attribute is malformed.
	_, err = c.Transact(context.Background(), []datomic.Op{
		datomic.Add{E: datomic.LookupRef{A: kw("person/name"), V: "x"}, A: kw("person/age"), V: int64(1)}})
	require.ErrorIs(t, err, datomic.ErrInvalidOp)
}

func TestNestedMaps(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/email": "a@x"})
	a := rep.Tempids["a"]

	// A non-component nested map without a unique attribute is rejected.
	_, err := c.Transact(ctx, []datomic.Op{datomic.EntityMap{"person/name": "z", "person/spouse": datomic.EntityMap{"person/name": "y"}}})
	require.ErrorIs(t, err, datomic.ErrInvalidOp)

	// With a unique-identity attribute it upserts.
	rep = mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("b"), "person/name": "B",
		"person/spouse": datomic.EntityMap{"person/email": "a@x", "person/age": int64(7)}})
	b := rep.Tempids["b"]
	assert.Equal(t, []any{a}, current(t, c, b, "person/spouse"))
	assert.Equal(t, []any{int64(7)}, current(t, c, a, "person/age"))

	// Nested maps in a cardinality-many list with a new identity creates entities.
	rep = mustTx(t, c, datomic.EntityMap{"db/id": b, "person/friend": []any{
		datomic.EntityMap{"person/email": "n1@x"}, datomic.EntityMap{"person/email": "n2@x"}}})
	assert.Len(t, current(t, c, b, "person/friend"), 2)
}

func TestUpsert(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/email": "a@x", "person/name": "A"})
	a := rep.Tempids["a"]

	rep = mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("t"), "person/email": "a@x", "person/age": int64(40)},
		datomic.Add{E: datomic.TempID("t"), A: kw("person/name"), V: "A2"},
		datomic.EntityMap{"person/name": "friend", "person/spouse": datomic.TempID("t")},
	)
	assert.Equal(t, a, rep.Tempids["t"], "tempid resolves to the holder of the identity value")
	assert.Equal(t, []any{"A2"}, current(t, c, a, "person/name"))
	assert.Equal(t, []any{int64(40)}, current(t, c, a, "person/age"))

	// Two tempids asserting one new identity value become one entity.
	rep = mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("x"), "person/email": "new@x", "person/name": "N"},
		datomic.EntityMap{"db/id": datomic.TempID("y"), "person/email": "new@x", "person/age": int64(1)},
	)
	assert.Equal(t, rep.Tempids["x"], rep.Tempids["y"])

	// Unique value (not identity) does not upsert: conflict.
	mustTx(t, c, datomic.EntityMap{"db/id": a, "person/ssn": "123"})
	before := c.Stats()
	_, err := c.Transact(ctx, []datomic.Op{datomic.EntityMap{"person/ssn": "123", "person/name": "dup"}})
	require.ErrorIs(t, err, datomic.ErrUniqueConflict)
	assert.Equal(t, before, c.Stats())

	// An existing entity taking another's identity value: conflict.
	rep = mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("o"), "person/email": "other@x"})
	_, err = c.Transact(ctx, []datomic.Op{datomic.Add{E: rep.Tempids["o"], A: kw("person/email"), V: "a@x"}})
	require.ErrorIs(t, err, datomic.ErrUniqueConflict)
	// Two new entities with the same unique value in one transaction.
	_, err = c.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"person/ssn": "999"}, datomic.EntityMap{"person/ssn": "999"}})
	require.ErrorIs(t, err, datomic.ErrUniqueConflict)
	// Moving a unique value from one entity to another in one transaction is fine.
	mustTx(t, c,
		datomic.Retract{E: a, A: kw("person/ssn"), V: "123"},
		datomic.Add{E: rep.Tempids["o"], A: kw("person/ssn"), V: "123"})
	assert.Equal(t, []any{"123"}, current(t, c, rep.Tempids["o"], "person/ssn"))
}

func TestTempidPartitionFromEDN(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("#db/id[:db.part/db]#1"), "db/ident": kw("fn/x")},
		datomic.EntityMap{"db/id": datomic.TempID("#db/id[:db.part/user -1]"), "db/ident": kw("enum/y")},
		datomic.EntityMap{"db/id": datomic.TempID("plain"), "db/ident": kw("enum/z")})
	assert.Equal(t, datomic.PartDB, datomic.Part(rep.Tempids["#db/id[:db.part/db]#1"]))
	assert.Equal(t, datomic.PartUser, datomic.Part(rep.Tempids["#db/id[:db.part/user -1]"]))
	assert.Equal(t, datomic.PartUser, datomic.Part(rep.Tempids["plain"]))
}

func TestUpsertToEntityZero(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("p"), "db/ident": kw("db.part/db"), "db/doc": "the db partition"})
	assert.Equal(t, int64(0), rep.Tempids["p"], "entity 0 is a real entity id")
	assert.Equal(t, []any{"the db partition"}, current(t, c, 0, "db/doc"))
}
