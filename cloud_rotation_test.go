package dcbackup_test

import (
	"context"
	"iter"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/cloud"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
	"github.com/dcbackup/dcbackup/internal/histgen"
)

// rotatingConn is a connection to a fake Cloud system's database that
// rotates one of the database's keys when the transactions streamed to
// its caller, or its transacts, reach given counts: in the middle of a
// log read (between two of the client's chunk requests) or between two
// transactions of a restore. It is still a *cloud.Conn, with the Cloud
// limits and database id.
type rotatingConn struct {
	*cloud.Conn
	t   testing.TB
	srv *peertest.Server

	mu               sync.Mutex
	streamed, txs    int
	onTx, onTransact map[int]string // count -> kind of key to rotate
	rotated          int
	// midStream counts the rotations after which the same log read
	// streamed more transactions.
	midStream int
}

func newRotatingConn(t testing.TB, db *cloudDB, onTx, onTransact map[int]string) *rotatingConn {
	return &rotatingConn{Conn: db.conn, t: t, srv: db.srv, onTx: onTx, onTransact: onTransact}
}

// tick counts one event and rotates the key due at the new count,
// reporting whether it did.
func (c *rotatingConn) tick(ctx context.Context, n *int, due map[int]string) bool {
	c.mu.Lock()
	*n++
	kind, ok := due[*n]
	if ok {
		c.rotated++
	}
	c.mu.Unlock()
	if ok {
		// Called from the backup's workers too: assert, not require.
		assert.NoError(c.t, c.srv.RotateKey(ctx, kind, peertest.DefaultDBName))
	}
	return ok
}

func (c *rotatingConn) TxRange(ctx context.Context, start, end int64) iter.Seq2[datomic.Tx, error] {
	return func(yield func(datomic.Tx, error) bool) {
		rotated := false
		for tx, err := range c.Conn.TxRange(ctx, start, end) {
			if err == nil && rotated {
				c.mu.Lock()
				c.midStream++
				c.mu.Unlock()
				rotated = false
			}
			if !yield(tx, err) || err != nil {
				return
			}
			rotated = c.tick(ctx, &c.streamed, c.onTx)
		}
	}
}

func (c *rotatingConn) Transact(ctx context.Context, ops []datomic.Op) (datomic.TxReport, error) {
	c.tick(ctx, &c.txs, c.onTransact)
	return c.Conn.Transact(ctx, ops)
}

func (c *rotatingConn) rotations() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rotated
}

// cloudHistory returns a Cloud database with a random history behind a
// fake Cloud system, read in chunks of 7 transactions.
func cloudHistory(t *testing.T, seed uint64, txs int) *cloudDB {
	t.Helper()
	return newCloudSource(t, histgen.Config{Seed: seed, Txs: txs, CompositeBackfill: true, Renames: true}, 7)
}

// The read key rotates between BackupNext calls: each call's first
// request is refused, the client reads the new key and goes on; the
// backup is complete and restores identically.
func TestCloudKeyRotationBetweenBackupNextCalls(t *testing.T) {
	ctx := testCtx(t)
	src := cloudHistory(t, 900, 80)
	store := dcbackup.NewMemStore()
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 10}
	rotations, calls := 0, 0
	for ; calls < 100; calls++ {
		res, err := dcbackup.BackupNext(ctx, "db", src.conn, store, opts)
		require.NoError(t, err)
		if !res.More {
			break
		}
		require.NoError(t, src.srv.RotateKey(ctx, cloud.KindDBRead, peertest.DefaultDBName))
		rotations++
	}
	require.Greater(t, rotations, 3)
	assert.Equal(t, 1+rotations, src.keyReads(cloud.KindDBRead), "the keyfile read at connect and after each rotation")
	requireNoBootstrapSegment(t, store)
	target, res := requireRestoresIdenticallyFromCloud(t, store, src)
	assert.Equal(t, userLogLen(t, src.local, mem.CloudBootstrapTxs), res.Transactions)
	requireVerified(t, src.local, target)
}

// The read key rotates twice during one long log read of a serial Backup
// (and twice while the workers of a parallel one read): the refused
// chunk request is sent again with the new key, and the backup is
// complete.
func TestCloudKeyRotationDuringBackup(t *testing.T) {
	for _, concurrency := range []int{1, 3} {
		t.Run("concurrency"+string(rune('0'+concurrency)), func(t *testing.T) {
			ctx := testCtx(t)
			src := cloudHistory(t, 910+uint64(concurrency), 120)
			rot := newRotatingConn(t, src, map[int]string{30: cloud.KindDBRead, 75: cloud.KindDBRead}, nil)
			store := dcbackup.NewMemStore()
			opts := &dcbackup.BackupOptions{MaxTxPerSegment: 8, Concurrency: concurrency}
			if concurrency == 1 {
				// One piece, read in one stream, cut into segments by size.
				opts.MaxTxPerSegment, opts.MaxDatomsPerSegment = 1000, 300
			}
			bk, err := dcbackup.Backup(ctx, "db", rot, store, opts)
			require.NoError(t, err)
			require.Greater(t, bk.Segments, 2)
			require.Equal(t, 2, rot.rotations())
			if concurrency == 1 {
				assert.Equal(t, 2, rot.midStream, "both rotations in the middle of the one long read")
				assert.Equal(t, 3, src.keyReads(cloud.KindDBRead), "the keyfile read at connect and after each rotation")
			} else {
				// Requests of other workers in flight at a rotation may
				// each read the keyfile again.
				assert.GreaterOrEqual(t, src.keyReads(cloud.KindDBRead), 3)
				assert.LessOrEqual(t, src.keyReads(cloud.KindDBRead), 1+2*concurrency)
			}
			userTxs := userLogLen(t, src.local, mem.CloudBootstrapTxs)
			require.Equal(t, userTxs, bk.Transactions)
			requireNoBootstrapSegment(t, store)
			requireRestoresIdenticallyFromCloud(t, store, src)
		})
	}
}

// The write key rotates twice and the read key once in the middle of a
// restore into Cloud: every refused transaction is sent once more with
// the new key, none is applied twice, and the copy verifies.
func TestCloudKeyRotationDuringRestore(t *testing.T) {
	ctx := testCtx(t)
	src := cloudHistory(t, 920, 80)
	store := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(ctx, "db", src.conn, store, &dcbackup.BackupOptions{MaxTxPerSegment: 9})
	require.NoError(t, err)

	target := newCloudDB(t)
	rot := newRotatingConn(t, target, nil, map[int]string{10: cloud.KindDBWrite, 25: cloud.KindDBRead, 40: cloud.KindDBWrite})
	res, err := dcbackup.Restore(ctx, "db", store, rot, nil)
	require.NoError(t, err)
	require.Equal(t, 3, rot.rotations())
	userTxs := userLogLen(t, src.local, mem.CloudBootstrapTxs)
	require.Equal(t, userTxs, res.Transactions)
	assert.Equal(t, 3, target.keyReads(cloud.KindDBWrite), "the write keyfile read at the first transact and after each rotation")
	assert.Equal(t, userTxs+1, userLogLen(t, target.local, mem.CloudBootstrapTxs), "the restore's schema transaction and one per source transaction")
	requireVerified(t, src.conn, target.conn)
	requireVerified(t, src.local, target.local)
	assert.Equal(t, 2, target.keyReads(cloud.KindDBRead), "the read keyfile read at connect and after its rotation")
}

// requireRestoresIdenticallyFromCloud restores store's "db", a backup of
// src, into a fresh Pro database and verifies it against src over the
// protocol.
func requireRestoresIdenticallyFromCloud(t *testing.T, store dcbackup.BackupStore, src *cloudDB) (datomic.Conn, dcbackup.RestoreResult) {
	t.Helper()
	ctx := testCtx(t)
	gaps, err := dcbackup.Gaps(ctx, "db", store)
	require.NoError(t, err)
	require.Empty(t, gaps)
	target := newTarget()
	res, err := dcbackup.Restore(ctx, "db", store, target, nil)
	require.NoError(t, err)
	rep := requireVerified(t, src.conn, target)
	require.Equal(t, res.Transactions, rep.Transactions)
	return target, res
}
