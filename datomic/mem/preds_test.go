package mem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func userName(v any) bool { s, ok := v.(string); return ok && len(s) >= 3 && len(s) <= 15 }

// TestAttributePredicates: :db.attr/preds are data; from the next
// transaction on, every value asserted (redundant ones included) must pass
// each predicate; a database that cannot run a predicate refuses the
// transaction (Datomic: the symbol does not resolve on the transactor).
func TestAttributePredicates(t *testing.T) {
	opts := Options{AttrPreds: map[datomic.Symbol]func(any) bool{"datomic.samples.attr-preds/user-name?": userName}}
	c, _ := newTestConn(t, opts)
	rep := mustTx(t, c, attrMap("user/name", "string", "one", "db.attr/preds", datomic.Symbol("datomic.samples.attr-preds/user-name?")),
		attrMap("user/id", "long", "one", "db/unique", kw("db.unique/identity")))
	assert.Contains(t, rep.TxData, datomic.Datom{E: entid(t, c, "user/name"), A: entid(t, c, "db.attr/preds"),
		V: datomic.Symbol("datomic.samples.attr-preds/user-name?"), Tx: rep.TxID(), Added: true}, "preds are datoms of the attribute")
	a, _, _ := mustDB(t, c).Attribute(context.Background(), kw("user/name"))
	assert.Equal(t, datomic.TypeString, a.ValueType)

	rep = mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("j"), "user/id": int64(1), "user/name": "john"})
	j := rep.Tempids["j"]
	de := requireRefused(t, c, datomic.ErrAttrPred, 1, datomic.EntityMap{"user/id": int64(2)}, datomic.Add{E: j, A: kw("user/name"), V: "jo"})
	assert.Contains(t, de.Message, "failed pred datomic.samples.attr-preds/user-name?")
	requireRefused(t, c, datomic.ErrAttrPred, 0, datomic.CAS{E: j, A: kw("user/name"), Old: "john", New: "x"})

	// Another database without the predicate refuses every value of the
	// attribute, as a transactor without the function on its classpath.
	other, _ := newTestConn(t, Options{})
	mustTx(t, other, attrMap("user/name", "string", "one", "db.attr/preds", datomic.Symbol("datomic.samples.attr-preds/user-name?")))
	de = requireRefused(t, other, datomic.ErrNotFound, 0, datomic.EntityMap{"user/name": "john"})
	assert.Contains(t, de.Message, "can't resolve symbol")

	// Retracting the predicate lifts it from the next transaction on.
	mustTx(t, c, datomic.Retract{E: kw("user/name"), A: kw("db.attr/preds"), V: datomic.Symbol("datomic.samples.attr-preds/user-name?")})
	mustTx(t, c, datomic.Add{E: j, A: kw("user/name"), V: "jo"})
}

// TestEntitySpecs: an entity spec is data (:db.entity/attrs,
// :db.entity/preds); [e :db/ensure spec] checks e after the transaction
// and is never written.
func TestEntitySpecs(t *testing.T) {
	ordered := func(ctx context.Context, db datomic.DB, e int64) bool {
		var low, high int64
		for d, err := range db.Datoms(ctx, datomic.EAVT, e) {
			require.NoError(t, err)
			a, _, _ := db.Ident(ctx, d.A)
			switch a {
			case "score/low":
				low = d.V.(int64)
			case "score/high":
				high = d.V.(int64)
			}
		}
		return low <= high
	}
	c, _ := newTestConn(t, Options{EntityPreds: map[datomic.Symbol]func(context.Context, datomic.DB, int64) bool{
		"datomic.samples.entity-preds/scores-are-ordered?": ordered}})
	mustTx(t, c, attrMap("score/low", "long", "one"), attrMap("score/high", "long", "one"),
		datomic.EntityMap{"db/ident": kw("team/score"), "db.entity/attrs": []any{kw("score/low"), kw("score/high")},
			"db.entity/preds": datomic.Symbol("datomic.samples.entity-preds/scores-are-ordered?")})

	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("s"), "score/low": int64(10), "score/high": int64(75), "db/ensure": kw("team/score")})
	s := rep.Tempids["s"]
	assert.Len(t, userDatoms(rep.TxData), 2, ":db/ensure writes nothing")
	assert.Len(t, userDatoms(lastTx(t, c).Datoms), 2)
	assert.Empty(t, current(t, c, s, "db/ensure"))

	de := requireRefused(t, c, datomic.ErrEntityAttr, 0,
		datomic.EntityMap{"db/id": datomic.TempID("m"), "score/low": int64(10), "db/ensure": kw("team/score")})
	assert.Contains(t, de.Message, "missing attributes [:score/high] of spec :team/score")
	de = requireRefused(t, c, datomic.ErrEntityPred, 0,
		datomic.EntityMap{"db/id": datomic.TempID("m"), "score/low": int64(100), "score/high": int64(20), "db/ensure": kw("team/score")})
	assert.Contains(t, de.Message, "failed pred datomic.samples.entity-preds/scores-are-ordered? of spec :team/score")
	// The predicate sees the transaction's changes to an existing entity,
	// retractions included.
	requireRefused(t, c, datomic.ErrEntityPred, 1,
		datomic.Add{E: s, A: kw("score/low"), V: int64(80)}, datomic.Add{E: s, A: kw("db/ensure"), V: kw("team/score")})
	requireRefused(t, c, datomic.ErrEntityAttr, 1,
		datomic.Retract{E: s, A: kw("score/high"), V: int64(75)}, datomic.Add{E: s, A: kw("db/ensure"), V: kw("team/score")})
	mustTx(t, c, datomic.Add{E: s, A: kw("score/low"), V: int64(70)}, datomic.Add{E: s, A: kw("db/ensure"), V: kw("team/score")})
	// Without :db/ensure the spec is not checked.
	mustTx(t, c, datomic.EntityMap{"score/low": int64(5)})

	other, _ := newTestConn(t, Options{})
	mustTx(t, other, attrMap("score/low", "long", "one"),
		datomic.EntityMap{"db/ident": kw("team/score"), "db.entity/preds": datomic.Symbol("datomic.samples.entity-preds/scores-are-ordered?")})
	requireRefused(t, other, datomic.ErrNotFound, 0, datomic.EntityMap{"score/low": int64(1), "db/ensure": kw("team/score")})
}

// TestTxViewReads: an entity predicate reads the database as the
// transaction leaves it, through every read.
func TestTxViewReads(t *testing.T) {
	var seen []string
	check := func(ctx context.Context, db datomic.DB, e int64) bool {
		for d, err := range db.Datoms(ctx, datomic.AVET, kw("person/name")) {
			require.NoError(t, err)
			seen = append(seen, d.V.(string))
		}
		for d, err := range db.IndexRange(ctx, kw("person/name"), "b", "z") {
			require.NoError(t, err)
			seen = append(seen, "range:"+d.V.(string))
		}
		for _, err := range db.Datoms(ctx, datomic.VAET, e) {
			require.NoError(t, err)
			seen = append(seen, "ref")
		}
		assert.Equal(t, db, db.AsOf(db.BasisT()))
		return true
	}
	c, _ := newTestConn(t, Options{EntityPreds: map[datomic.Symbol]func(context.Context, datomic.DB, int64) bool{"p/check": check}})
	personSchema(t, c)
	mustTx(t, c, datomic.EntityMap{"db/ident": kw("spec/any"), "db.entity/preds": datomic.Symbol("p/check")})
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "c"}, datomic.EntityMap{"person/name": "d"})
	a := rep.Tempids["a"]
	mustTx(t, c, datomic.Add{E: a, A: kw("person/name"), V: "b"}, datomic.EntityMap{"person/name": "a", "person/friend": a},
		datomic.Add{E: a, A: kw("db/ensure"), V: kw("spec/any")})
	assert.Equal(t, []string{"a", "b", "d", "range:b", "range:d", "ref"}, seen)
}

// TestFunctionValues: :db.type/fn values (Datomic Pro's stored functions)
// are stored, indexed and logged like any value.
func TestFunctionValues(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	inc := datomic.Fn{Lang: "clojure", Params: []datomic.Symbol{"db", "e", "a", "amount"}, Code: "[[:db/add e a amount]]"}
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("f"), "db/ident": kw("inc"), "db/fn": inc},
		attrMap("my/fn", "fn", "one"))
	f := rep.Tempids["f"]
	got := current(t, c, f, "db/fn")
	require.Len(t, got, 1)
	assert.True(t, inc.Equal(got[0].(datomic.Fn)))
	a, ok, _ := mustDB(t, c).Attribute(context.Background(), kw("db/fn"))
	require.True(t, ok)
	assert.Equal(t, datomic.TypeFn, a.ValueType)
	a, _, _ = mustDB(t, c).Attribute(context.Background(), kw("my/fn"))
	assert.Equal(t, datomic.TypeFn, a.ValueType)
	// Redundant and wrong-typed values as for other types.
	rep = mustTx(t, c, datomic.Add{E: f, A: kw("db/fn"), V: datomic.Fn{Lang: "clojure", Params: []datomic.Symbol{"db", "e", "a", "amount"}, Code: "[[:db/add e a amount]]"}})
	assert.Empty(t, userDatoms(rep.TxData))
	requireRefused(t, c, datomic.ErrWrongType, 0, datomic.Add{E: f, A: kw("db/fn"), V: "code"})
	assert.NotEmpty(t, allDatoms(t, mustDB(t, c), datomic.AVET, kw("db/fn"), inc))
}
