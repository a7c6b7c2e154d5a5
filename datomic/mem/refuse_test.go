package mem

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dcbackup/dcbackup/datomic"
)

// TestTxInstantOnlyOnCurrentTransaction: :db/txInstant can be set only on
// the current transaction (:db.error/reset-tx-instant), once
// (:db.error/multiple-tx-instants).
func TestTxInstantOnlyOnCurrentTransaction(t *testing.T) {
	c, clk := newTestConn(t, Options{})
	personSchema(t, c)
	old := mustTx(t, c, datomic.EntityMap{"person/name": "a"})
	inst := instantOf(t, old)
	requireRefused(t, c, datomic.ErrResetTxInstant, 1,
		datomic.EntityMap{"person/name": "b"}, datomic.Add{E: old.TxID(), A: kw("db/txInstant"), V: clk.now})
	requireRefused(t, c, datomic.ErrResetTxInstant, 0, datomic.Retract{E: old.TxID(), A: kw("db/txInstant"), V: inst})
	requireRefused(t, c, datomic.ErrMultipleTxInstants, 1,
		datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: clk.now},
		datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: clk.now.Add(-time.Millisecond)})
	// Annotating an earlier transaction is fine.
	mustTx(t, c, datomic.Add{E: old.TxID(), A: kw("db/doc"), V: "late note"})
}

// TestTxInstantOnOrdinaryEntity: Datomic checks :db/txInstant only on
// transaction entities; on another entity it is an ordinary datom.
func TestTxInstantOnOrdinaryEntity(t *testing.T) {
	c, clk := newTestConn(t, Options{})
	personSchema(t, c)
	past := clk.now.Add(-24 * time.Hour)
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("p"), "person/name": "p", "db/txInstant": past})
	p := rep.Tempids["p"]
	assert.Equal(t, []any{past}, current(t, c, p, "db/txInstant"))
	assert.NotEqual(t, past, instantOf(t, rep), "the transaction's own instant is not affected")
}

// TestExplicitInstallDatomsAreDerived: Datomic drops explicit install and
// alter datoms on :db.part/db and writes the install datom of a new
// attribute itself, so a retraction of [:db.part/db :db.install/attribute a]
// writes nothing and the attribute stays installed.
func TestExplicitInstallDatomsAreDerived(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	name := entid(t, c, "person/name")
	rep := mustTx(t, c, datomic.Retract{E: int64(0), A: kw("db.install/attribute"), V: name},
		datomic.Add{E: int64(0), A: kw("db.alter/attribute"), V: name})
	assert.Empty(t, userDatoms(rep.TxData))
	assert.Empty(t, userDatoms(lastTx(t, c).Datoms))
	mustTx(t, c, datomic.EntityMap{"person/name": "still an attribute"})

	// The old map form installs one attribute with one install datom.
	rep = mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "db/ident": kw("x/a"), "db/valueType": kw("db.type/long"),
		"db/cardinality": kw("db.cardinality/one"), "db.install/_attribute": kw("db.part/db")})
	installs := 0
	for _, d := range rep.TxData {
		if d.E == 0 && d.A == entid(t, c, "db.install/attribute") {
			installs++
			assert.Equal(t, rep.Tempids["a"], d.V)
		}
	}
	assert.Equal(t, 1, installs)
}

// TestBootDatomsCannotBeAltered: Datomic's own entities (idents in the db,
// db.* and fressian namespaces, in :db.part/db) keep their datoms: no
// rename, no new value of a cardinality-one attribute, no retraction.
func TestBootDatomsCannotBeAltered(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	installPart(t, c, "people")
	for i, op := range []datomic.Op{
		datomic.Add{E: kw("db/cas"), A: kw("db/ident"), V: kw("my/cas")},
		datomic.Retract{E: kw("db.type/string"), A: kw("db/ident"), V: kw("db.type/string")},
		datomic.Add{E: kw("db/txInstant"), A: kw("db/index"), V: false},
		datomic.Add{E: kw("db/doc"), A: kw("db/cardinality"), V: kw("db.cardinality/many")},
		datomic.Add{E: kw("db/ident"), A: kw("db/doc"), V: "changed"},
		datomic.Retract{E: kw("db.part/db"), A: kw("db.install/partition"), V: kw("people")},
		datomic.Retract{E: kw("db.part/db"), A: kw("db.install/valueType"), V: kw("db.type/string")},
	} {
		de := requireRefused(t, c, datomic.ErrDatomCannotBeAltered, 0, op)
		assert.Contains(t, de.Message, "boot datoms cannot be altered", "case %d", i)
	}
	// A value an entity does not have yet, or another value of a
	// cardinality-many attribute, is not an alteration.
	mustTx(t, c, datomic.Add{E: kw("db/add"), A: kw("db/doc"), V: "primitive assertion"})
	installPart(t, c, "places")
	// User schema is not boot schema.
	mustTx(t, c, datomic.Add{E: kw("person/name"), A: kw("db/doc"), V: "a name"},
		datomic.Add{E: kw("person/age"), A: kw("db/ident"), V: kw("person/years")})
}

// TestAttrPredsOnSystemAttribute: :db.attr/preds cannot go on a built-in
// attribute (:db.error/attr-pred-on-system-attr).
func TestAttrPredsOnSystemAttribute(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	requireRefused(t, c, datomic.ErrAttrPredOnSystemAttr, 0,
		datomic.Add{E: kw("db/doc"), A: kw("db.attr/preds"), V: datomic.Symbol("my/ok?")})
}

// TestTupleElementTypes: tuple elements and composite constituents are of
// Datomic's tuple value types (no float, bytes or fn); a composite and its
// constituents stay cardinality one.
func TestTupleElementTypes(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	mustTx(t, c, attrMap("x/f", "float", "one"), attrMap("x/b", "bytes", "one"), attrMap("x/l", "long", "one"), attrMap("x/s", "string", "one"))
	for _, m := range []datomic.EntityMap{
		attrMap("x/t1", "tuple", "one", "db/tupleType", kw("db.type/float")),
		attrMap("x/t2", "tuple", "one", "db/tupleTypes", []any{kw("db.type/long"), kw("db.type/bytes")}),
		attrMap("x/t3", "tuple", "one", "db/tupleAttrs", []any{kw("x/l"), kw("x/f")}),
		attrMap("x/t4", "tuple", "one", "db/tupleAttrs", []any{kw("x/b"), kw("x/l")}),
	} {
		requireRefused(t, c, datomic.ErrInvalidOp, 0, m)
	}
	mustTx(t, c, attrMap("x/l+s", "tuple", "one", "db/tupleAttrs", []any{kw("x/l"), kw("x/s")}))
	requireRefused(t, c, datomic.ErrInvalidAlter, 0, datomic.Add{E: kw("x/l"), A: kw("db/cardinality"), V: kw("db.cardinality/many")})
	requireRefused(t, c, datomic.ErrInvalidAlter, 0, datomic.Add{E: kw("x/l+s"), A: kw("db/cardinality"), V: kw("db.cardinality/many")})
}
