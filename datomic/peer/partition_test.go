package peer_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// TestForcePartition installs a partition and forces new entities into it
// over the wire, by ident and by id.
func TestForcePartition(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)
	rep, err := e.conn.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"db/id": datomic.TempID("p"), "db/ident": kw("people"), "db.install/_partition": kw("db.part/db")},
	})
	require.NoError(t, err)
	people := rep.Tempids["p"]
	require.Equal(t, datomic.PartDB, datomic.Part(people))

	rep, err = e.conn.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"db/id": datomic.TempID("a"), "t/string": "a"},
		datomic.EntityMap{"db/id": datomic.TempID("b"), "t/string": "b"},
		datomic.EntityMap{"db/id": datomic.TempID("c"), "t/string": "c"},
		datomic.EntityMap{"db/id": datomic.TempID("d"), "t/string": "d"},
		datomic.ForcePartition{"a": kw("people"), "b": people, "c": int(people)},
		datomic.ForcePartition{"d": kw("db.part/db")},
	})
	require.NoError(t, err)
	assert.Equal(t, people, datomic.Part(rep.Tempids["a"]))
	assert.Equal(t, people, datomic.Part(rep.Tempids["b"]))
	assert.Equal(t, people, datomic.Part(rep.Tempids["c"]))
	assert.Equal(t, datomic.PartDB, datomic.Part(rep.Tempids["d"]))

	_, err = e.conn.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"db/id": datomic.TempID("x"), "t/string": "x"},
		datomic.ForcePartition{"x": kw("t/string")},
	})
	assert.ErrorIs(t, err, datomic.ErrInvalidOp, "not a partition")
	_, err = e.conn.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"db/id": datomic.TempID("x"), "t/string": "x"},
		datomic.ForcePartition{"x": kw("nowhere")},
	})
	assert.ErrorIs(t, err, datomic.ErrNotAnEntity, "unknown partition")

	// A partition that cannot be encoded is refused before anything is sent.
	before := e.srv.Requests("transact")
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.ForcePartition{"x": "people"}})
	assert.ErrorIs(t, err, datomic.ErrInvalidOp)
	assert.Equal(t, before, e.srv.Requests("transact"))

	// The log through the server equals the engine's own.
	requireSameTxs(t, collectTxs(t, e.mem, 0, 0), collectTxs(t, e.conn, 0, 0))
}
