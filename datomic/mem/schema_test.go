package mem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func TestInstallAttributeImplicit(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	ctx := context.Background()
	rep := mustTx(t, c, attrMap("account/id", "uuid", "one", "db/unique", kw("db.unique/identity"), "db/doc", "foo"))
	// txInstant, ident, valueType, cardinality, unique, doc, install.
	require.Len(t, rep.TxData, 7)
	var attr int64
	for _, d := range rep.TxData {
		if d.A == 10 {
			attr = d.E
		}
	}
	assert.Equal(t, datomic.PartDB, datomic.Part(attr), "attributes go to :db.part/db")
	assert.Contains(t, rep.TxData, datomic.Datom{E: 0, A: 13, V: attr, Tx: rep.TxID(), Added: true})
	assert.Contains(t, rep.TxData, datomic.Datom{E: attr, A: 40, V: int64(56), Tx: rep.TxID(), Added: true})
	assert.Contains(t, rep.TxData, datomic.Datom{E: attr, A: 41, V: int64(35), Tx: rep.TxID(), Added: true})
	assert.Contains(t, rep.TxData, datomic.Datom{E: attr, A: 42, V: int64(38), Tx: rep.TxID(), Added: true})
	assert.Equal(t, datomic.Datom{E: rep.TxID(), A: 50, V: rep.TxData[0].V, Tx: rep.TxID(), Added: true}, rep.TxData[0])

	db, _ := c.DB(ctx)
	a, ok, err := db.Attribute(ctx, kw("account/id"))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, datomic.Attribute{ID: attr, Ident: "account/id", ValueType: datomic.TypeUUID,
		Cardinality: datomic.CardinalityOne, Unique: datomic.UniqueIdentity}, a)
	a2, ok, _ := db.Attribute(ctx, attr)
	require.True(t, ok)
	assert.Equal(t, a, a2)
}

func TestInstallAttributeByIDsAndExplicitInstall(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	// A restore sends enum ids and the install datom explicitly.
	rep := mustTx(t, c,
		datomic.Add{E: datomic.TempID("a"), A: int64(10), V: kw("x/name")},
		datomic.Add{E: datomic.TempID("a"), A: int64(40), V: int64(23)},
		datomic.Add{E: datomic.TempID("a"), A: int64(41), V: int64(36)},
		datomic.Add{E: int64(0), A: int64(13), V: datomic.TempID("a")},
	)
	a := rep.Tempids["a"]
	n := 0
	for _, d := range rep.TxData {
		if d.A == 13 {
			n++
			assert.Equal(t, a, d.V)
		}
	}
	assert.Equal(t, 1, n, "exactly one install datom")
	assert.Len(t, rep.TxData, 5)
	db, _ := c.DB(context.Background())
	at, ok, _ := db.Attribute(context.Background(), kw("x/name"))
	require.True(t, ok)
	assert.Equal(t, datomic.TypeString, at.ValueType)
	assert.True(t, at.IsMany())
	// The reverse-ref install form of old schemas works too.
	mustTx(t, c, datomic.EntityMap{"db/ident": kw("x/old"), "db/valueType": kw("db.type/long"),
		"db/cardinality": kw("db.cardinality/one"), "db.install/_attribute": kw("db.part/db")})
	mustTx(t, c, datomic.EntityMap{"x/old": int64(1), "x/name": "n"})
}

func TestAttributeUnusableInInstallingTx(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	_, err := c.Transact(context.Background(), []datomic.Op{
		attrMap("x/a", "string", "one"),
		datomic.EntityMap{"x/a": "v"},
	})
	require.ErrorIs(t, err, datomic.ErrNotAnAttribute)
	assert.Equal(t, int64(0), c.Stats().BasisT)
}

func TestIncompleteAttribute(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	_, err := c.Transact(context.Background(), []datomic.Op{
		datomic.EntityMap{"db/ident": kw("x/a"), "db/valueType": kw("db.type/string")}})
	require.ErrorIs(t, err, datomic.ErrInvalidOp)
	_, err = c.Transact(context.Background(), []datomic.Op{
		datomic.EntityMap{"db/ident": kw("x/a"), "db/cardinality": kw("db.cardinality/one")}})
	require.ErrorIs(t, err, datomic.ErrInvalidOp)
}

func TestSchemaReinstallIsUpsert(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	rep := mustTx(t, c, attrMap("person/name", "string", "one", "db/doc", "the name"))
	// Only the txInstant and the doc: the rest is redundant.
	assert.Len(t, rep.TxData, 2)
}

func TestAlterations(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	attr := func(k kw) datomic.Attribute {
		db, _ := c.DB(ctx)
		a, ok, err := db.Attribute(ctx, k)
		require.NoError(t, err)
		require.True(t, ok, k)
		return a
	}
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "A", "person/age": int64(1)},
		datomic.EntityMap{"db/id": datomic.TempID("b"), "person/name": "A", "person/age": int64(2)})
	a := rep.Tempids["a"]

	// Cardinality one -> many -> one.
	mustTx(t, c, datomic.EntityMap{"db/id": kw("person/age"), "db/cardinality": kw("db.cardinality/many")})
	assert.True(t, attr("person/age").IsMany())
	mustTx(t, c, datomic.Add{E: a, A: kw("person/age"), V: int64(5)})
	assert.Len(t, current(t, c, a, "person/age"), 2)
	_, err := c.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/id": kw("person/age"), "db/cardinality": kw("db.cardinality/one")}})
	require.ErrorIs(t, err, datomic.ErrInvalidAlter, "an entity has two values")
	mustTx(t, c, datomic.Retract{E: a, A: kw("person/age"), V: int64(5)})
	mustTx(t, c, datomic.EntityMap{"db/id": kw("person/age"), "db/cardinality": kw("db.cardinality/one")})
	assert.False(t, attr("person/age").IsMany())

	// Adding unique fails while values are duplicated, succeeds after.
	_, err = c.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/id": kw("person/name"), "db/unique": kw("db.unique/value")}})
	require.ErrorIs(t, err, datomic.ErrInvalidAlter)
	mustTx(t, c, datomic.Add{E: a, A: kw("person/name"), V: "A1"})
	mustTx(t, c, datomic.EntityMap{"db/id": kw("person/name"), "db/unique": kw("db.unique/value")})
	assert.Equal(t, datomic.UniqueValue, attr("person/name").Unique)
	// Removing it.
	mustTx(t, c, datomic.Retract{E: kw("person/name"), A: kw("db/unique"), V: kw("db.unique/value")})
	assert.Equal(t, datomic.UniqueNone, attr("person/name").Unique)

	// noHistory, isComponent, index, doc.
	mustTx(t, c, datomic.EntityMap{"db/id": kw("person/age"), "db/noHistory": true, "db/index": true, "db/doc": "age"})
	mustTx(t, c, datomic.EntityMap{"db/id": kw("person/spouse"), "db/isComponent": true})
	assert.True(t, attr("person/age").NoHistory)
	assert.True(t, attr("person/age").Index)
	assert.True(t, attr("person/spouse").IsComponent)

	// valueType and fulltext cannot change.
	_, err = c.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/id": kw("person/age"), "db/valueType": kw("db.type/string")}})
	require.ErrorIs(t, err, datomic.ErrInvalidAlter)
	_, err = c.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/id": kw("person/age"), "db/fulltext": true}})
	require.ErrorIs(t, err, datomic.ErrInvalidAlter)
}

func TestIdentRename(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "A"})
	a := rep.Tempids["a"]
	db0, _ := c.DB(ctx)
	id, _, _ := db0.Entid(ctx, "person/name")

	rep = mustTx(t, c, datomic.EntityMap{"db/id": kw("person/name"), "db/ident": kw("person/full-name")})
	// The old ident is retracted and the new asserted.
	assert.Contains(t, rep.TxData, datomic.Datom{E: id, A: 10, V: kw("person/name"), Tx: rep.TxID(), Added: false})
	assert.Contains(t, rep.TxData, datomic.Datom{E: id, A: 10, V: kw("person/full-name"), Tx: rep.TxID(), Added: true})
	db, _ := c.DB(ctx)
	old, ok, _ := db.Entid(ctx, "person/name")
	assert.True(t, ok, "the old ident still resolves (Datomic's documented rename behaviour)")
	assert.Equal(t, id, old)
	id2, ok, _ := db.Entid(ctx, "person/full-name")
	assert.True(t, ok)
	assert.Equal(t, id, id2)
	k, _, _ := db.Ident(ctx, id)
	assert.Equal(t, kw("person/full-name"), k)
	// The old value is still seen by the old database value.
	k, _, _ = db0.Ident(ctx, id)
	assert.Equal(t, kw("person/name"), k)
	mustTx(t, c, datomic.Add{E: a, A: kw("person/full-name"), V: "B"})
	mustTx(t, c, datomic.Add{E: a, A: kw("person/name"), V: "C"})
	assert.Equal(t, []any{"C"}, current(t, c, a, "person/full-name"))
	_, ok, _ = db.AsOf(1).Entid(ctx, "person/full-name")
	assert.True(t, ok, "an as-of value keeps the idents of its basis")
	_, ok, _ = db0.Entid(ctx, "person/full-name")
	assert.False(t, ok, "not in a value from before the rename")

	// Another entity taking the old ident takes the name over.
	rep = mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("n"), "db/ident": kw("person/name")})
	db, _ = c.DB(ctx)
	now, _, _ := db.Entid(ctx, "person/name")
	assert.Equal(t, rep.Tempids["n"], now)
	_, err := c.Transact(ctx, []datomic.Op{datomic.Add{E: a, A: kw("person/name"), V: "D"}})
	require.ErrorIs(t, err, datomic.ErrNotAnAttribute)
}

func TestSchemaEnumValuesChecked(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	for _, m := range []datomic.EntityMap{
		attrMap("x/a", "string", "one", "db/valueType", kw("db.part/user")),
		attrMap("x/b", "string", "one", "db/cardinality", kw("db.unique/value")),
		attrMap("x/c", "string", "one", "db/unique", kw("db.cardinality/one")),
		attrMap("x/d", "tuple", "one", "db/tupleType", kw("not.a/type")),
		attrMap("x/e", "string", "one", "db/isComponent", true),
	} {
		_, err := c.Transact(context.Background(), []datomic.Op{m})
		require.ErrorIs(t, err, datomic.ErrInvalidOp, m["db/ident"])
	}
	assert.Equal(t, int64(0), c.Stats().BasisT)
}
