package mem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func tupleSchema(t *testing.T, c *Conn) {
	t.Helper()
	mustTx(t, c,
		attrMap("reg/course", "ref", "one"),
		attrMap("reg/student", "ref", "one"),
		attrMap("reg/semester", "string", "one"),
		attrMap("course/code", "string", "one", "db/unique", kw("db.unique/identity")),
		attrMap("pt/xy", "tuple", "one", "db/tupleType", kw("db.type/long")),
		attrMap("pt/labelled", "tuple", "one", "db/tupleTypes", datomic.Tuple{kw("db.type/string"), kw("db.type/long"), kw("db.type/ref")}),
	)
	mustTx(t, c,
		attrMap("reg/course+student", "tuple", "one", "db/tupleAttrs", []any{kw("reg/course"), kw("reg/student")},
			"db/unique", kw("db.unique/identity")),
		attrMap("reg/student+semester", "tuple", "one", "db/tupleAttrs", datomic.Tuple{kw("reg/student"), kw("reg/semester")}),
	)
}

func TestCompositeTupleMaintained(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	tupleSchema(t, c)
	ctx := context.Background()
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("c"), "course/code": "C1"},
		datomic.EntityMap{"db/id": datomic.TempID("s"), "course/code": "S1"},
		datomic.EntityMap{"db/id": datomic.TempID("r"), "reg/course": datomic.TempID("c")},
	)
	r, co, s := rep.Tempids["r"], rep.Tempids["c"], rep.Tempids["s"]
	db := mustDB(t, c)
	cs, _, _ := db.Entid(ctx, "reg/course+student")
	assert.Contains(t, rep.TxData, datomic.Datom{E: r, A: cs, V: datomic.Tuple{co, nil}, Tx: rep.TxID(), Added: true},
		"missing elements are nil")
	assert.Equal(t, []any{datomic.Tuple{co, nil}}, current(t, c, r, "reg/course+student"))
	assert.Empty(t, current(t, c, r, "reg/student+semester"), "no component present: no tuple")

	rep = mustTx(t, c, datomic.Add{E: r, A: kw("reg/student"), V: s})
	assert.Contains(t, rep.TxData, datomic.Datom{E: r, A: cs, V: datomic.Tuple{co, nil}, Tx: rep.TxID(), Added: false})
	assert.Contains(t, rep.TxData, datomic.Datom{E: r, A: cs, V: datomic.Tuple{co, s}, Tx: rep.TxID(), Added: true})
	txs := logTxs(t, c)
	assert.Contains(t, txs[len(txs)-1].Datoms, datomic.Datom{E: r, A: cs, V: datomic.Tuple{co, s}, Tx: rep.TxID(), Added: true},
		"composite datoms are in the log")
	assert.Equal(t, []any{datomic.Tuple{s, nil}}, current(t, c, r, "reg/student+semester"))

	// Direct assertion is rejected.
	_, err := c.Transact(ctx, []datomic.Op{datomic.Add{E: r, A: kw("reg/course+student"), V: datomic.Tuple{co, s}}})
	require.ErrorIs(t, err, datomic.ErrCompositeTuple)
	_, err = c.Transact(ctx, []datomic.Op{datomic.EntityMap{"reg/course+student": datomic.Tuple{co, s}}})
	require.ErrorIs(t, err, datomic.ErrCompositeTuple)

	// A unique composite: another entity with the same pair upserts/conflicts.
	_, err = c.Transact(ctx, []datomic.Op{datomic.EntityMap{"reg/course": co, "reg/student": s}})
	require.ErrorIs(t, err, datomic.ErrUniqueConflict)

	// Retracting every component retracts the tuple.
	mustTx(t, c, datomic.Retract{E: r, A: kw("reg/course"), V: co}, datomic.Retract{E: r, A: kw("reg/student"), V: s})
	assert.Empty(t, current(t, c, r, "reg/course+student"))
	assert.Empty(t, current(t, c, r, "reg/student+semester"))
}

func TestHomogeneousAndHeterogeneousTuples(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	tupleSchema(t, c)
	ctx := context.Background()
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("p"),
		"pt/xy":       datomic.Tuple{int64(1), int64(2), int64(3)},
		"pt/labelled": []any{"a", int64(1), kw("course/code")}})
	p := rep.Tempids["p"]
	code, _, _ := mustDB(t, c).Entid(ctx, "course/code")
	assert.Equal(t, []any{datomic.Tuple{int64(1), int64(2), int64(3)}}, current(t, c, p, "pt/xy"))
	assert.Equal(t, []any{datomic.Tuple{"a", int64(1), code}}, current(t, c, p, "pt/labelled"), "ref elements resolve idents")

	for _, bad := range []any{
		datomic.Tuple{int64(1), "x"}, // wrong element type
		datomic.Tuple{int64(1)},      // too short
		datomic.Tuple{int64(1), int64(1), int64(1), int64(1), int64(1), int64(1), int64(1), int64(1), int64(1)}, // too long
		"not a tuple",
	} {
		_, err := c.Transact(ctx, []datomic.Op{datomic.Add{E: p, A: kw("pt/xy"), V: bad}})
		require.ErrorIs(t, err, datomic.ErrWrongType, "%v", bad)
	}
	_, err := c.Transact(ctx, []datomic.Op{datomic.Add{E: p, A: kw("pt/labelled"), V: datomic.Tuple{"a", int64(1)}}})
	require.ErrorIs(t, err, datomic.ErrWrongType)
	_, err = c.Transact(ctx, []datomic.Op{datomic.Add{E: p, A: kw("pt/labelled"), V: datomic.Tuple{int64(1), int64(1), code}}})
	require.ErrorIs(t, err, datomic.ErrWrongType)

	db := mustDB(t, c)
	a, ok, _ := db.Attribute(ctx, kw("pt/labelled"))
	require.True(t, ok)
	assert.Equal(t, []datomic.ValueType{datomic.TypeString, datomic.TypeLong, datomic.TypeRef}, a.TupleTypes)
	assert.True(t, a.HasRefsInTuple())
	a, _, _ = db.Attribute(ctx, kw("reg/course+student"))
	assert.Equal(t, []datomic.Keyword{"reg/course", "reg/student"}, a.TupleAttrs)
	assert.True(t, a.IsComposite())
}

func TestTupleSchemaValidation(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	tupleSchema(t, c)
	ctx := context.Background()
	for _, m := range []datomic.EntityMap{
		attrMap("x/t1", "tuple", "one"),                                                       // no tuple schema
		attrMap("x/t2", "tuple", "one", "db/tupleAttrs", []any{kw("reg/course")}),             // too short
		attrMap("x/t3", "tuple", "one", "db/tupleAttrs", []any{kw("reg/course"), kw("nope")}), // unknown
		attrMap("x/t4", "long", "one", "db/tupleType", kw("db.type/long")),                    // not a tuple
	} {
		_, err := c.Transact(ctx, []datomic.Op{m})
		require.Error(t, err, m["db/ident"])
	}
}

func TestCompositeInstalledWithItsAttributes(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	// Datomic accepts a composite tuple installed together with the
	// attributes it names (Day of Datomic's course-registration.edn does so).
	mustTx(t, c,
		attrMap("sem/year", "long", "one"),
		attrMap("sem/season", "keyword", "one"),
		attrMap("sem/year+season", "tuple", "one", "db/tupleAttrs", []any{kw("sem/year"), kw("sem/season")},
			"db/unique", kw("db.unique/identity")))
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("s"), "sem/year": int64(2024), "sem/season": kw("fall")})
	s := rep.Tempids["s"]
	assert.Equal(t, []any{datomic.Tuple{int64(2024), kw("fall")}}, current(t, c, s, "sem/year+season"))
	// A lookup ref on the composite finds the entity.
	rep = mustTx(t, c, datomic.Add{E: datomic.LookupRef{A: kw("sem/year+season"), V: datomic.Tuple{int64(2024), kw("fall")}},
		A: kw("db/doc"), V: "fall 2024"})
	assert.Equal(t, []any{"fall 2024"}, current(t, c, s, "db/doc"))
	// A component that is cardinality many, even when new, is refused.
	_, err := c.Transact(context.Background(), []datomic.Op{
		attrMap("sem/tags", "keyword", "many"),
		attrMap("sem/year+tags", "tuple", "one", "db/tupleAttrs", []any{kw("sem/year"), kw("sem/tags")})})
	require.ErrorIs(t, err, datomic.ErrInvalidOp)
}
