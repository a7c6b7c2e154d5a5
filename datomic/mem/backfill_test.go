package mem

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcbackup/dcbackup/datomic"
)

// TestCompositeBackfillByRedundantAssertion: a composite installed after
// its entities exist is filled by re-asserting a constituent value
// (Cognitect's establish-composite). The redundant constituent datom is not
// written; the composite datom is, once, and nothing when it is current.
func TestCompositeBackfillByRedundantAssertion(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	mustTx(t, c, attrMap("room/number", "long", "one"), attrMap("room/letter", "string", "one"))
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("a"), "room/number": int64(42), "room/letter": "B"},
		datomic.EntityMap{"db/id": datomic.TempID("b"), "room/number": int64(7)})
	a, b := rep.Tempids["a"], rep.Tempids["b"]
	mustTx(t, c, attrMap("room/number+letter", "tuple", "one",
		"db/tupleAttrs", []any{kw("room/number"), kw("room/letter")}, "db/unique", kw("db.unique/value")))
	comp := entid(t, c, "room/number+letter")
	assert.Empty(t, current(t, c, a, "room/number+letter"), "existing entities have no composite yet")

	rep = mustTx(t, c, datomic.Add{E: a, A: kw("room/number"), V: int64(42)}, datomic.Add{E: b, A: kw("room/number"), V: int64(7)})
	assert.ElementsMatch(t, []datomic.Datom{
		{E: a, A: comp, V: datomic.Tuple{int64(42), "B"}, Tx: rep.TxID(), Added: true},
		{E: b, A: comp, V: datomic.Tuple{int64(7), nil}, Tx: rep.TxID(), Added: true},
	}, userDatoms(rep.TxData), "only the composite datoms")
	assert.ElementsMatch(t, userDatoms(rep.TxData), userDatoms(lastTx(t, c).Datoms), "the log holds the same")
	assert.Equal(t, []any{datomic.Tuple{int64(42), "B"}}, current(t, c, a, "room/number+letter"))

	// Again: the composite is current, so nothing but the instant.
	rep = mustTx(t, c, datomic.Add{E: a, A: kw("room/letter"), V: "B"})
	assert.Empty(t, userDatoms(rep.TxData))

	// A retraction of a constituent value the entity does not have
	// recomputes the composites too (nothing to change here).
	rep = mustTx(t, c, datomic.Retract{E: b, A: kw("room/letter"), V: "Z"})
	assert.Empty(t, userDatoms(rep.TxData))

	// The unique composite is enforced for backfilled values as well.
	rep = mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("x"), "room/letter": "B"})
	x := rep.Tempids["x"]
	requireRefused(t, c, datomic.ErrUniqueConflict, 0, datomic.Add{E: x, A: kw("room/number"), V: int64(42)})
}
