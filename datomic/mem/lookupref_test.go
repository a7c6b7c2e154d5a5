package mem

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcbackup/dcbackup/datomic"
)

// TestLookupRefPositions: a lookup ref [unique-attr value] names an
// existing entity in every position where Datomic resolves one, and one
// that names no entity refuses the transaction (:db.error/not-an-entity).
func TestLookupRefPositions(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	tupleSchema(t, c)
	mustTx(t, c, attrMap("x/refs", "tuple", "one", "db/tupleType", kw("db.type/ref")),
		attrMap("x/mix", "tuple", "one", "db/tupleTypes", []any{kw("db.type/ref"), kw("db.type/string")}))
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("a"), "person/email": "a@x", "person/name": "a"},
		datomic.EntityMap{"db/id": datomic.TempID("b"), "person/email": "b@x", "person/name": "b"},
		datomic.EntityMap{"db/id": datomic.TempID("c"), "course/code": "C1"})
	a, b, co := rep.Tempids["a"], rep.Tempids["b"], rep.Tempids["c"]
	la := datomic.LookupRef{A: kw("person/email"), V: "a@x"}
	lb := datomic.LookupRef{A: kw("person/email"), V: "b@x"}
	nobody := datomic.LookupRef{A: kw("person/email"), V: "nobody@x"}

	cases := []struct {
		name  string
		op    func(l datomic.LookupRef) datomic.Op
		check func()
	}{
		{"entity of :db/add", func(l datomic.LookupRef) datomic.Op { return datomic.Add{E: l, A: kw("person/age"), V: int64(3)} },
			func() { assert.Equal(t, []any{int64(3)}, current(t, c, a, "person/age")) }},
		{":db/id of a map", func(l datomic.LookupRef) datomic.Op { return datomic.EntityMap{"db/id": l, "person/age": int64(4)} },
			func() { assert.Equal(t, []any{int64(4)}, current(t, c, a, "person/age")) }},
		{"ref value", func(l datomic.LookupRef) datomic.Op { return datomic.Add{E: b, A: kw("person/spouse"), V: l} },
			func() { assert.Equal(t, []any{a}, current(t, c, b, "person/spouse")) }},
		{"ref values of a map", func(l datomic.LookupRef) datomic.Op {
			return datomic.EntityMap{"db/id": b, "person/friend": []any{l}}
		}, func() { assert.Equal(t, []any{a}, current(t, c, b, "person/friend")) }},
		{"reverse attribute", func(l datomic.LookupRef) datomic.Op {
			return datomic.EntityMap{"db/id": b, "person/_spouse": l}
		}, func() { assert.Equal(t, []any{b}, current(t, c, a, "person/spouse")) }},
		{"nested map :db/id", func(l datomic.LookupRef) datomic.Op {
			return datomic.EntityMap{"db/id": b, "person/friend": datomic.EntityMap{"db/id": l, "person/age": int64(5)}}
		}, func() { assert.Equal(t, []any{int64(5)}, current(t, c, a, "person/age")) }},
		{"entity of :db/cas", func(l datomic.LookupRef) datomic.Op {
			return datomic.CAS{E: l, A: kw("person/age"), Old: int64(5), New: int64(6)}
		}, func() { assert.Equal(t, []any{int64(6)}, current(t, c, a, "person/age")) }},
		{"values of :db/cas", func(l datomic.LookupRef) datomic.Op {
			return datomic.CAS{E: b, A: kw("person/spouse"), Old: l, New: lb}
		}, func() { assert.Equal(t, []any{b}, current(t, c, b, "person/spouse")) }},
		{"value of :db/retract", func(l datomic.LookupRef) datomic.Op { return datomic.Retract{E: b, A: kw("person/friend"), V: l} },
			func() { assert.Empty(t, current(t, c, b, "person/friend")) }},
		{"entity of :db/retract", func(l datomic.LookupRef) datomic.Op { return datomic.Retract{E: l, A: kw("person/age"), V: int64(6)} },
			func() { assert.Empty(t, current(t, c, a, "person/age")) }},
		{"homogeneous ref tuple", func(l datomic.LookupRef) datomic.Op {
			return datomic.Add{E: b, A: kw("x/refs"), V: datomic.Tuple{l, lb}}
		}, func() { assert.Equal(t, []any{datomic.Tuple{a, b}}, current(t, c, b, "x/refs")) }},
		{"heterogeneous tuple", func(l datomic.LookupRef) datomic.Op {
			return datomic.Add{E: b, A: kw("x/mix"), V: datomic.Tuple{l, "s"}}
		}, func() { assert.Equal(t, []any{datomic.Tuple{a, "s"}}, current(t, c, b, "x/mix")) }},
		{"composite lookup ref with a lookup ref inside", func(l datomic.LookupRef) datomic.Op {
			return datomic.EntityMap{"db/id": datomic.TempID("r"), "reg/course": co, "reg/student": l}
		}, func() {}},
	}
	for _, cs := range cases {
		requireRefused(t, c, datomic.ErrNotAnEntity, 0, cs.op(nobody))
		mustTx(t, c, cs.op(la))
		cs.check()
	}
	// The composite: a lookup ref whose value is a tuple holding a lookup ref.
	reg := datomic.LookupRef{A: kw("reg/course+student"), V: datomic.Tuple{co, datomic.LookupRef{A: kw("person/email"), V: "a@x"}}}
	mustTx(t, c, datomic.Add{E: reg, A: kw("reg/semester"), V: "fall"})
	requireRefused(t, c, datomic.ErrNotAnEntity, 0, datomic.Add{
		E: datomic.LookupRef{A: kw("reg/course+student"), V: datomic.Tuple{co, nobody}}, A: kw("reg/semester"), V: "spring"})

	// The attribute position: [:db/ident :person/name].
	mustTx(t, c, datomic.Add{E: b, A: datomic.LookupRef{A: kw("db/ident"), V: kw("person/name")}, V: "bee"})
	assert.Equal(t, []any{"bee"}, current(t, c, b, "person/name"))
	requireRefused(t, c, datomic.ErrNotAnEntity, 0, datomic.Add{E: b, A: datomic.LookupRef{A: kw("db/ident"), V: kw("no/such")}, V: "x"})
	// Not unique: refused.
	requireRefused(t, c, datomic.ErrInvalidOp, 0, datomic.Add{E: datomic.LookupRef{A: kw("person/name"), V: "bee"}, A: kw("person/age"), V: int64(1)})

	requireRefused(t, c, datomic.ErrNotAnEntity, 0, datomic.RetractEntity{E: nobody})
	mustTx(t, c, datomic.RetractEntity{E: la})
	assert.Empty(t, current(t, c, a, "person/name"))
}
