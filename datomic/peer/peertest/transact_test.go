package peertest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// TestForcePartitionDecoding decodes :db/force-partition alone and inside
// an entity map with other keys.
func TestForcePartitionDecoding(t *testing.T) {
	ctx := context.Background()
	db, err := mem.New(mem.Options{}).DB(ctx)
	require.NoError(t, err)
	c := &txConv{ctx: ctx, db: db}
	force := transit.Map{{Key: "a", Value: datomic.Keyword("db.part/db")}, {Key: "b", Value: int64(4)}}

	ops, err := c.ops(nil, transit.Map{{Key: kwForce, Value: force}})
	require.NoError(t, err)
	assert.Equal(t, []datomic.Op{datomic.ForcePartition{"a": datomic.Keyword("db.part/db"), "b": int64(4)}}, ops)

	ops, err = c.ops(nil, transit.Map{{Key: kwDBID, Value: "a"}, {Key: datomic.Keyword("db/doc"), Value: "x"},
		{Key: kwForce, Value: transit.Map{{Key: "a", Value: int64(0)}}}})
	require.NoError(t, err)
	assert.Equal(t, []datomic.Op{
		datomic.ForcePartition{"a": int64(0)},
		datomic.EntityMap{"db/id": datomic.TempID("a"), "db/doc": "x"},
	}, ops)

	for _, bad := range []any{"x", transit.Map{{Key: int64(1), Value: int64(0)}}, transit.Map{{Key: "a", Value: "db.part/db"}}} {
		_, err = c.ops(nil, transit.Map{{Key: kwForce, Value: bad}})
		assert.Error(t, err, "%v", bad)
	}
}
