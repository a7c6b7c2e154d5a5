package peer_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// TestOperations sends every kind of operation over the wire and checks
// the engine saw the same thing as when called directly.
func TestOperations(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)
	rep, err := e.conn.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"db/id": datomic.TempID("a"), "t/string": "a", "t/long": int64(1)},
		datomic.EntityMap{"db/id": datomic.TempID("b"), "t/string": "b", "t/_ref": datomic.TempID("a"),
			"t/component": datomic.EntityMap{"t/string": "b-part"}},
	})
	require.NoError(t, err)
	a, b := rep.Tempids["a"], rep.Tempids["b"]

	value := func(e0 any, attr kw) []any {
		db, err := e.conn.DB(ctx)
		require.NoError(t, err)
		var out []any
		for d, err := range db.Datoms(ctx, datomic.EAVT, e0, attr) {
			require.NoError(t, err)
			out = append(out, d.V)
		}
		return out
	}
	assert.Equal(t, []any{b}, value(a, "t/ref"), "reverse reference in a map")

	// Lookup refs and idents in entity position, CAS and retract.
	_, err = e.conn.Transact(ctx, []datomic.Op{
		datomic.CAS{E: datomic.LookupRef{A: kw("t/string"), V: "a"}, A: kw("t/long"), Old: int64(1), New: int64(2)},
		datomic.Retract{E: a, A: kw("t/ref"), V: datomic.LookupRef{A: kw("t/string"), V: "b"}},
		datomic.Add{E: kw("color/red"), A: kw("t/note"), V: "red"},
	})
	require.NoError(t, err)
	assert.Equal(t, []any{int64(2)}, value(a, "t/long"))
	assert.Empty(t, value(a, "t/ref"))
	assert.Equal(t, []any{"red"}, value(kw("color/red"), "t/note"))

	_, err = e.conn.Transact(ctx, []datomic.Op{
		datomic.CAS{E: a, A: kw("t/long"), Old: int64(1), New: int64(3)},
	})
	assert.ErrorIs(t, err, datomic.ErrCASFailed)

	parts := value(b, "t/component")
	require.Len(t, parts, 1)
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.RetractEntity{E: b}})
	require.NoError(t, err)
	assert.Empty(t, value(b, "t/string"))
	assert.Empty(t, value(parts[0], "t/string"), "components go with their entity")

	// The log through the server equals the engine's own.
	requireSameTxs(t, collectTxs(t, e.mem, 0, 0), collectTxs(t, e.conn, 0, 0))

	// Operations that cannot be encoded are refused before anything is sent.
	before := e.srv.Requests("transact")
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.Add{E: a, A: kw("t/string"), V: struct{}{}}})
	assert.Error(t, err)
	_, err = e.conn.Transact(ctx, []datomic.Op{nil})
	assert.ErrorIs(t, err, datomic.ErrInvalidOp)
	assert.Equal(t, before, e.srv.Requests("transact"))
}
