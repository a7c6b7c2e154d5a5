package mem

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func instantOf(t *testing.T, rep datomic.TxReport) time.Time {
	t.Helper()
	for _, d := range rep.TxData {
		if d.E == rep.TxID() && d.A == 50 {
			return d.V.(time.Time)
		}
	}
	t.Fatal("no txInstant")
	return time.Time{}
}

func TestTxInstantDefaultFromClock(t *testing.T) {
	c, clk := newTestConn(t, Options{})
	clk.now = time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	rep := mustTx(t, c)
	assert.Equal(t, time.Date(2024, 5, 1, 11, 0, 0, 123000000, time.UTC), instantOf(t, rep), "UTC, truncated to ms")
	assert.Equal(t, rep.TxData[0].A, int64(50), "the instant datom comes first")
	// A clock going backwards never produces an instant older than the latest.
	clk.now = clk.now.Add(-time.Hour)
	rep2 := mustTx(t, c)
	assert.Equal(t, instantOf(t, rep), instantOf(t, rep2))
}

func TestTxInstantExplicit(t *testing.T) {
	c, clk := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	past := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	latest := instantOf(t, mustTx(t, c))

	before := c.Stats()
	_, err := c.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"person/name": "x"},
		datomic.EntityMap{"db/id": datomic.TxTempID, "db/txInstant": past}})
	require.ErrorIs(t, err, datomic.ErrPastTxInstant)
	var de *datomic.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 1, de.Op)
	assert.Equal(t, before, c.Stats(), "rejected: nothing visible, basis unchanged")

	_, err = c.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: clk.now.Add(time.Second)}})
	require.ErrorIs(t, err, datomic.ErrFutureTxInstant)

	// Equal to the latest is allowed, and annotations go on the tx entity.
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TxTempID, "db/txInstant": latest, "db/doc": "audit"})
	assert.Equal(t, latest, instantOf(t, rep))
	assert.Equal(t, []any{"audit"}, current(t, c, rep.TxID(), "db/doc"))
	// Between latest and now.
	mid := latest.Add(-time.Millisecond).Add(2 * time.Millisecond)
	clk.now = clk.now.Add(time.Hour)
	rep = mustTx(t, c, datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: mid})
	assert.Equal(t, mid, instantOf(t, rep))
	assert.Len(t, rep.TxData, 1, "one instant datom, not two")
}

func TestTxInstantBackdatedFirstTx(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TxTempID, "db/txInstant": time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)})
	assert.Equal(t, int64(0), instantOf(t, rep).UnixMilli())
}
