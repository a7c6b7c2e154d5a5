package mem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func TestRejectedTransactionsChangeNothing(t *testing.T) {
	c, _ := newTestConn(t, Options{SharedCounter: true})
	personSchema(t, c)
	ctx := context.Background()
	a := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/email": "a@x", "person/ssn": "1"}).Tempids["a"]
	before := c.Stats()
	db0 := mustDB(t, c)
	cases := []struct {
		name string
		ops  []datomic.Op
		want error
		op   int
	}{
		{"wrong type", []datomic.Op{datomic.EntityMap{"person/name": "ok"}, datomic.Add{E: a, A: kw("person/age"), V: "old"}}, datomic.ErrWrongType, 1},
		{"wrong ref", []datomic.Op{datomic.Add{E: a, A: kw("person/spouse"), V: "str"}}, datomic.ErrWrongType, 0},
		{"unknown attribute", []datomic.Op{datomic.EntityMap{"person/name": "ok"}, datomic.EntityMap{"person/nope": "x"}}, datomic.ErrNotAnAttribute, 1},
		{"attribute id not an attribute", []datomic.Op{datomic.Add{E: a, A: int64(35), V: "x"}}, datomic.ErrNotAnAttribute, 0},
		{"unknown ident", []datomic.Op{datomic.Add{E: a, A: kw("person/kind"), V: kw("kind/alien")}}, datomic.ErrNotAnEntity, 0},
		{"unknown ident entity", []datomic.Op{datomic.Add{E: kw("no/such"), A: kw("person/name"), V: "x"}}, datomic.ErrNotAnEntity, 0},
		{"unknown lookup ref", []datomic.Op{datomic.Add{E: datomic.LookupRef{A: kw("person/email"), V: "zz"}, A: kw("person/name"), V: "x"}}, datomic.ErrNotAnEntity, 0},
		{"invalid id", []datomic.Op{datomic.Add{E: datomic.EntityID(4, 1<<40), A: kw("person/name"), V: "x"}}, datomic.ErrInvalidEntityID, 0},
		{"unique conflict", []datomic.Op{datomic.EntityMap{"person/name": "n"}, datomic.EntityMap{"person/ssn": "1"}}, datomic.ErrUniqueConflict, 1},
		{"cas", []datomic.Op{datomic.EntityMap{"person/name": "n"}, datomic.CAS{E: a, A: kw("person/ssn"), Old: "2", New: "3"}}, datomic.ErrCASFailed, 1},
		{"nil op", []datomic.Op{nil}, datomic.ErrInvalidOp, 0},
		{"card one list", []datomic.Op{datomic.EntityMap{"person/name": []any{"a", "b"}}}, datomic.ErrWrongType, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Transact(ctx, tc.ops)
			require.ErrorIs(t, err, tc.want)
			var de *datomic.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.op, de.Op)
			assert.NotEmpty(t, de.Message)
			assert.Equal(t, before, c.Stats())
		})
	}
	// No id consumption is visible: the next entity gets the id it would have.
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("n"), "person/name": "next"})
	assert.Equal(t, before.BasisT+2, rep.BasisAfter, "shared counter: t then the new entity")
	assert.Equal(t, datomic.EntityID(4, rep.BasisAfter+1), rep.Tempids["n"])
	assert.Equal(t, before.BasisT, db0.BasisT())
}

func TestCanceledContext(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Transact(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
	_, err = c.DB(ctx)
	require.ErrorIs(t, err, context.Canceled)
}
