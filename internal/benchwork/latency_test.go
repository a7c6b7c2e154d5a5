package benchwork_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/internal/benchwork"
)

// A generated log of Transactions transactions backs up as one segment per
// transaction, which the latency store (here without latency) lists,
// loads and counts, and which restores and compacts through it.
func TestOneTxSegmentsThroughALatencyStore(t *testing.T) {
	ctx := context.Background()
	src, err := benchwork.NewSource(ctx, benchwork.Config{Seed: 2, Transactions: 25})
	require.NoError(t, err)
	require.Equal(t, 25, src.Transactions())
	inner := dcbackup.NewMemStore()
	bk, err := benchwork.BackupOneTxSegments(ctx, "db", src, inner)
	require.NoError(t, err)
	assert.Equal(t, 27, bk.Segments, "two schema transactions and 25 generated ones")
	assert.Equal(t, bk.Segments, bk.Transactions)

	store := benchwork.NewLatencyStore(inner, 0)
	assert.Zero(t, store.Delay())
	res, err := dcbackup.Restore(ctx, "db", store, benchwork.NewNopTarget(), nil)
	require.NoError(t, err)
	assert.Equal(t, bk.Transactions, res.Transactions)
	reqs := store.Requests()
	assert.Equal(t, int64(bk.Segments), reqs.Loads, "one load per segment")
	assert.Equal(t, int64(bk.Segments), reqs.LoadHeads, "one header read per segment")
	assert.Equal(t, int64(1), reqs.Lists)
	assert.Equal(t, reqs.Loads+reqs.LoadHeads+reqs.Lists+reqs.Lasts, reqs.Total())

	cr, err := dcbackup.Compact(ctx, "db", store, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, cr.After)
	since := store.Requests().Sub(reqs)
	assert.Equal(t, int64(bk.Segments+1), since.Loads, "inputs and the merged segment read back")
	segs, err := inner.List(ctx, "db", 0)
	require.NoError(t, err)
	assert.Len(t, segs, 1)
	_, ok, err := store.Last(ctx, "db")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, int64(1), store.Requests().Sub(reqs).Lasts)
}

// A delayed request gives up when its context ends, at once.
func TestLatencyStoreHonoursTheContext(t *testing.T) {
	store := benchwork.NewLatencyStore(dcbackup.NewMemStore(), time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := store.List(ctx, "db", 0)
	require.ErrorIs(t, err, context.Canceled)
	_, err = store.Load(ctx, "db", dcbackup.SegmentInfo{StartT: 0, EndT: 1})
	require.ErrorIs(t, err, context.Canceled)
	_, err = store.LoadHead(ctx, "db", dcbackup.SegmentInfo{StartT: 0, EndT: 1}, 10)
	require.ErrorIs(t, err, context.Canceled)
	_, _, err = store.Last(ctx, "db")
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, benchwork.StoreRequests{Loads: 1, LoadHeads: 1, Lists: 1, Lasts: 1}, store.Requests())
}

// plainStore has no LoadHead and no removal.
type plainStore struct{ m *dcbackup.MemStore }

func (p plainStore) Save(ctx context.Context, db string, seg dcbackup.SegmentInfo, data []byte) error {
	return p.m.Save(ctx, db, seg, data)
}

func (p plainStore) Load(ctx context.Context, db string, seg dcbackup.SegmentInfo) ([]byte, error) {
	return p.m.Load(ctx, db, seg)
}

func (p plainStore) List(ctx context.Context, db string, fromT int64) ([]dcbackup.SegmentInfo, error) {
	return p.m.List(ctx, db, fromT)
}

func (p plainStore) Last(ctx context.Context, db string) (dcbackup.SegmentInfo, bool, error) {
	return p.m.Last(ctx, db)
}

// Over a store without ranged reads, LoadHead cuts a whole Load; over a
// store that cannot remove segments, removal fails.
func TestLatencyStoreOverAPlainStore(t *testing.T) {
	ctx := context.Background()
	mem := dcbackup.NewMemStore()
	seg := dcbackup.SegmentInfo{StartT: 0, EndT: 1}
	require.NoError(t, mem.Save(ctx, "db", seg, []byte("0123456789")))
	var inner dcbackup.BackupStore = plainStore{mem}
	_, isHead := inner.(dcbackup.HeadLoader)
	require.False(t, isHead)
	store := benchwork.NewLatencyStore(inner, 0)
	head, err := store.LoadHead(ctx, "db", seg, 4)
	require.NoError(t, err)
	assert.Equal(t, []byte("0123"), head)
	head, err = store.LoadHead(ctx, "db", seg, 40)
	require.NoError(t, err)
	assert.Equal(t, []byte("0123456789"), head)
	require.Error(t, store.Delete(ctx, "db", seg))
	_, err = store.Quarantine(ctx, "db", seg)
	require.Error(t, err)
	assert.Contains(t, store.String(), "plainStore")
}
