package mem

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// installPart installs partition ident with the list form and returns its id.
func installPart(t *testing.T, c *Conn, ident string) int64 {
	t.Helper()
	rep := mustTx(t, c,
		datomic.Add{E: datomic.TempID("p"), A: kw("db/ident"), V: kw(ident)},
		datomic.Add{E: kw("db.part/db"), A: kw("db.install/partition"), V: datomic.TempID("p")},
	)
	return rep.Tempids["p"]
}

// requireTxErr checks that err is a *datomic.Error of kind sentinel for op.
func requireTxErr(t *testing.T, err error, sentinel *datomic.Error, op int) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, sentinel)
	var de *datomic.Error
	require.True(t, errors.As(err, &de))
	assert.Equal(t, op, de.Op, "op index in %v", err)
}

func TestBootstrapPartitions(t *testing.T) {
	ctx := context.Background()
	for _, opts := range []Options{{}, {BootstrapShift: 1000, ExtraBuiltins: true}} {
		c, _ := newTestConn(t, opts)
		db, err := c.DB(ctx)
		require.NoError(t, err)
		var parts []any
		for d, err := range db.Datoms(ctx, datomic.EAVT, int64(0), kw("db.install/partition")) {
			require.NoError(t, err)
			parts = append(parts, d.V)
		}
		assert.Equal(t, []any{datomic.PartDB, datomic.PartTx, datomic.PartUser}, parts)
		for ident, want := range map[kw]int64{"db.part/db": 0, "db.part/tx": 3, "db.part/user": 4} {
			id, ok, err := db.Entid(ctx, ident)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, want, id, "%s with %+v", ident, opts)
		}
	}
	assert.Panics(t, func() { New(Options{BootstrapShift: 2}) })
}

func TestInstallPartitionAndForce(t *testing.T) {
	for _, opts := range []Options{{}, {SharedCounter: true}, {BootstrapShift: 1000, ExtraBuiltins: true}} {
		c, _ := newTestConn(t, opts)
		personSchema(t, c)
		people := installPart(t, c, "people")
		assert.Equal(t, datomic.PartDB, datomic.Part(people))
		assert.Less(t, people, int64(maxPartition))

		// The map form with the reverse attribute installs one too.
		rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("q"), "db/ident": kw("places"),
			"db.install/_partition": kw("db.part/db")})
		places := rep.Tempids["q"]
		assert.Equal(t, datomic.PartDB, datomic.Part(places))
		assert.NotEqual(t, people, places)
		assert.Equal(t, []any{datomic.PartDB, datomic.PartTx, datomic.PartUser, people, places},
			current(t, c, 0, "db.install/partition"))

		// Force by ident and by id; other tempids keep the default.
		rep = mustTx(t, c,
			datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "a"},
			datomic.EntityMap{"db/id": datomic.TempID("b"), "person/name": "b"},
			datomic.EntityMap{"db/id": datomic.TempID("c"), "person/name": "c"},
			datomic.EntityMap{"db/id": datomic.TempID("d"), "person/name": "d"},
			datomic.ForcePartition{"a": kw("people"), "b": people, "c": int(places)},
		)
		a, b, cc, d := rep.Tempids["a"], rep.Tempids["b"], rep.Tempids["c"], rep.Tempids["d"]
		assert.Equal(t, people, datomic.Part(a), "%+v", opts)
		assert.Equal(t, people, datomic.Part(b))
		assert.Equal(t, places, datomic.Part(cc))
		assert.Equal(t, datomic.PartUser, datomic.Part(d))
		assert.NotEqual(t, a, b)

		// Ids grow within the partition; the entities are usable by id.
		rep = mustTx(t, c,
			datomic.EntityMap{"db/id": datomic.TempID("e"), "person/name": "e", "person/friend": a},
			datomic.ForcePartition{"e": kw("people")},
			datomic.Add{E: b, A: kw("person/name"), V: "b2"},
		)
		e := rep.Tempids["e"]
		assert.Equal(t, people, datomic.Part(e))
		assert.Greater(t, e, max(a, b))
		assert.Equal(t, []any{"b2"}, current(t, c, b, "person/name"))
		assert.Len(t, rep.TxData, 5, "txInstant, name and friend of e, implicit retraction and new name of b")

		// The log and as-of views carry the ids unchanged.
		txs := logTxs(t, c)
		found := false
		for _, dt := range txs[len(txs)-2].Datoms {
			found = found || dt.E == a
		}
		assert.True(t, found)
		db, _ := c.DB(context.Background())
		before := db.AsOf(txs[len(txs)-3].T)
		n := 0
		for _, err := range before.Datoms(context.Background(), datomic.EAVT, a) {
			require.NoError(t, err)
			n++
		}
		assert.Zero(t, n)
	}
}

func TestForceIntoDBAndUser(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("x"), "db/doc": "x"},
		datomic.EntityMap{"db/id": datomic.TempID("y"), "db/doc": "y"},
		datomic.EntityMap{"db/id": datomic.TempID("#db/id[:db.part/db -1]"), "db/doc": "z"},
		datomic.ForcePartition{"x": kw("db.part/db"), "y": int64(0), "#db/id[:db.part/db -1]": kw("db.part/user")},
	)
	assert.Equal(t, datomic.PartDB, datomic.Part(rep.Tempids["x"]))
	assert.Equal(t, datomic.PartDB, datomic.Part(rep.Tempids["y"]))
	assert.Equal(t, datomic.PartUser, datomic.Part(rep.Tempids["#db/id[:db.part/db -1]"]), "an explicit force wins over the tag")
	x := rep.Tempids["x"]
	mustTx(t, c, datomic.Add{E: x, A: kw("db/doc"), V: "x2"})
	assert.Equal(t, []any{"x2"}, current(t, c, x, "db/doc"))

	// An attribute forced into :db.part/db is fine; elsewhere it is not.
	mustTx(t, c, attrMap("t/a", "string", "one", "db/id", datomic.TempID("a")), datomic.ForcePartition{"a": kw("db.part/db")})
	_, err := c.Transact(context.Background(), []datomic.Op{
		attrMap("t/b", "string", "one", "db/id", datomic.TempID("b")), datomic.ForcePartition{"b": kw("db.part/user")}})
	requireTxErr(t, err, datomic.ErrInvalidOp, 0)
}

func TestForcedTempidThatUpsertsKeepsItsID(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	people := installPart(t, c, "people")
	old := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("o"), "person/email": "e@x"}).Tempids["o"]
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("u"), "person/email": "e@x", "person/name": "n"},
		datomic.ForcePartition{"u": people},
	)
	assert.Equal(t, old, rep.Tempids["u"])
	assert.Equal(t, datomic.PartUser, datomic.Part(old))
}

func TestForceRejected(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	people := installPart(t, c, "people")
	basis := logTxs(t, c)
	name := datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "a"}
	for _, tc := range []struct {
		name     string
		force    datomic.ForcePartition
		sentinel *datomic.Error
	}{
		{"unknown ident", datomic.ForcePartition{"a": kw("nowhere")}, datomic.ErrNotAnEntity},
		{"ident of a non-partition", datomic.ForcePartition{"a": kw("kind/human")}, datomic.ErrInvalidOp},
		{"attribute", datomic.ForcePartition{"a": kw("person/name")}, datomic.ErrInvalidOp},
		{"id of a non-partition", datomic.ForcePartition{"a": people + 1}, datomic.ErrInvalidOp},
		{"tx partition", datomic.ForcePartition{"a": kw("db.part/tx")}, datomic.ErrInvalidOp},
		{"tx partition by id", datomic.ForcePartition{"a": datomic.PartTx}, datomic.ErrInvalidOp},
		{"transaction tempid", datomic.ForcePartition{datomic.TxTempID: kw("people")}, datomic.ErrInvalidOp},
		{"empty tempid", datomic.ForcePartition{"": kw("people")}, datomic.ErrInvalidOp},
		{"not a partition value", datomic.ForcePartition{"a": "people"}, datomic.ErrInvalidOp},
	} {
		_, err := c.Transact(ctx, []datomic.Op{name, tc.force})
		requireTxErr(t, err, tc.sentinel, 1)
	}
	// Two partitions for one tempid.
	_, err := c.Transact(ctx, []datomic.Op{name, datomic.ForcePartition{"a": people}, datomic.ForcePartition{"a": kw("db.part/user")}})
	requireTxErr(t, err, datomic.ErrInvalidOp, 2)
	// A partition installed by the same transaction cannot be used yet.
	_, err = c.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"db/ident": kw("later"), "db.install/_partition": kw("db.part/db")},
		name, datomic.ForcePartition{"a": kw("later")}})
	requireTxErr(t, err, datomic.ErrNotAnEntity, 2)

	// Nothing was written and no id was consumed.
	assert.Equal(t, basis, logTxs(t, c))
	rep := mustTx(t, c, name, datomic.ForcePartition{"a": people})
	assert.Equal(t, datomic.EntityID(people, 1), rep.Tempids["a"])
	// A tempid only named by the directive is no entity and no error.
	rep = mustTx(t, c, datomic.EntityMap{"person/name": "z"}, datomic.ForcePartition{"unused": people})
	assert.NotContains(t, rep.Tempids, datomic.TempID("unused"))
}

func TestInstallPartitionRejected(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	installPart(t, c, "people")
	basis := logTxs(t, c)
	for i, ops := range [][]datomic.Op{
		// No ident.
		{datomic.Add{E: datomic.TempID("p"), A: kw("db/doc"), V: "p"},
			datomic.Add{E: int64(0), A: kw("db.install/partition"), V: datomic.TempID("p")}},
		// An attribute.
		{datomic.Add{E: int64(0), A: kw("db.install/partition"), V: kw("person/name")}},
		// Not on :db.part/db.
		{datomic.Add{E: kw("kind/human"), A: kw("db.install/partition"), V: kw("kind/robot")}},
		// A user-partition entity.
		{datomic.EntityMap{"db/id": datomic.TempID("u"), "db/ident": kw("u")},
			datomic.Add{E: int64(0), A: kw("db.install/partition"), V: datomic.TempID("u")},
			datomic.ForcePartition{"u": kw("db.part/user")}},
	} {
		_, err := c.Transact(ctx, ops)
		require.ErrorIs(t, err, datomic.ErrInvalidOp, "case %d", i)
	}
	// Uninstalling: the install datom is a datom of :db.part/db, which
	// Datomic never lets a transaction retract.
	_, err := c.Transact(ctx, []datomic.Op{datomic.Retract{E: int64(0), A: kw("db.install/partition"), V: kw("people")}})
	require.ErrorIs(t, err, datomic.ErrDatomCannotBeAltered)
	assert.Equal(t, basis, logTxs(t, c))

	// A partition entity id must fit a partition index.
	c.nextDB = maxPartition
	_, err = c.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/ident": kw("far"), "db.install/_partition": kw("db.part/db")}})
	require.ErrorIs(t, err, datomic.ErrInvalidOp)
	assert.Contains(t, err.Error(), "does not fit a partition index")
	c.nextDB = maxPartition - 1
	far := installPart(t, c, "far")
	assert.Equal(t, int64(maxPartition-1), far)
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("x"), "person/name": "x"}, datomic.ForcePartition{"x": far})
	assert.Equal(t, far, datomic.Part(rep.Tempids["x"]))
	assert.Positive(t, rep.Tempids["x"])
}

func TestTempidTagNamesInstalledPartition(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	people := installPart(t, c, "people")
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("#db/id[:people -1]"), "person/name": "a"},
		datomic.EntityMap{"db/id": datomic.TempID("#db/id[:db.part/user -1]"), "person/name": "b"},
		datomic.EntityMap{"db/id": datomic.TempID("#db/id[:unknown -1]"), "person/name": "c"},
	)
	assert.Equal(t, people, datomic.Part(rep.Tempids["#db/id[:people -1]"]))
	assert.Equal(t, datomic.PartUser, datomic.Part(rep.Tempids["#db/id[:db.part/user -1]"]))
	assert.Equal(t, datomic.PartUser, datomic.Part(rep.Tempids["#db/id[:unknown -1]"]))
}
