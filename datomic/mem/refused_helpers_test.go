package mem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// requireRefused transacts ops, requires a *datomic.Error of kind sentinel
// naming operation op, and requires that nothing changed: the log, the
// figures and the next transaction's t are those of before.
func requireRefused(t *testing.T, c *Conn, sentinel *datomic.Error, op int, ops ...datomic.Op) *datomic.Error {
	t.Helper()
	stats, log := c.Stats(), logTxs(t, c)
	nextEnt, nextDB, nextT := c.nextEnt, c.nextDB, c.nextT
	_, err := c.Transact(context.Background(), ops)
	requireTxErr(t, err, sentinel, op)
	assert.Equal(t, stats, c.Stats(), "refused: figures unchanged")
	assert.Equal(t, log, logTxs(t, c), "refused: log unchanged")
	assert.Equal(t, [3]int64{nextEnt, nextDB, nextT}, [3]int64{c.nextEnt, c.nextDB, c.nextT}, "refused: counters unchanged")
	de := err.(*datomic.Error)
	return de
}

// lastTx returns the latest transaction of the log.
func lastTx(t *testing.T, c *Conn) datomic.Tx {
	t.Helper()
	txs := logTxs(t, c)
	require.NotEmpty(t, txs)
	return txs[len(txs)-1]
}

// entid resolves ident in the latest database.
func entid(t *testing.T, c *Conn, ident kw) int64 {
	t.Helper()
	id, ok, err := mustDB(t, c).Entid(context.Background(), ident)
	require.NoError(t, err)
	require.True(t, ok, ident)
	return id
}
