package dcbackup_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func backedUp(t *testing.T, seed uint64, n, perSegment int) (*dcbackup.MemStore, datomic.Conn) {
	t.Helper()
	src := newSource(t, seed, n, seed%2 == 0)
	store := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(context.Background(), "db", src, store, &dcbackup.BackupOptions{MaxTxPerSegment: perSegment})
	require.NoError(t, err)
	return store, src
}

func TestRestoreRefusesTargetWithUserData(t *testing.T) {
	ctx := context.Background()
	store, _ := backedUp(t, 1, 20, 5)
	target := newTarget()
	_, err := target.Transact(ctx, []datomic.Op{datomic.EntityMap{
		"db/ident": datomic.Keyword("user/attr"), "db/valueType": datomic.Keyword("db.type/string"),
		"db/cardinality": datomic.Keyword("db.cardinality/one"),
	}})
	require.NoError(t, err)
	err = requireRestoreRefused(t, store, target, dcbackup.ErrTargetNotEmpty)
	require.Contains(t, err.Error(), "fresh database")
}

func TestRestoreRefusesTargetWrittenSince(t *testing.T) {
	ctx := context.Background()
	store, _ := backedUp(t, 2, 20, 5)
	target := newTarget()
	_, err := dcbackup.RestoreSegment(ctx, "db", store, target, nil)
	require.NoError(t, err)
	_, err = target.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: datomic.Keyword("db/doc"), V: "foreign write"}})
	require.NoError(t, err)
	requireRestoreRefused(t, store, target, dcbackup.ErrTargetModified)
}

// An empty transaction (nothing but its instant) written to a restored
// target is someone else's: the restore never writes one of its own. The
// next restore refuses the target before applying anything (it used to
// fail midway, on the instant, with the database's own error), and
// Verify reports the extra transaction (it used to say OK).
func TestRestoreRefusesTargetGivenAnEmptyTransaction(t *testing.T) {
	ctx := testCtx(t)
	src := smallSourceOpts(t, 5, mem.Options{}) // real clock, a live source
	store := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(ctx, "db", src, store, nil)
	require.NoError(t, err)
	target := newTarget()
	_, err = dcbackup.Restore(ctx, "db", store, target, nil)
	require.NoError(t, err)
	requireVerified(t, src, target)

	_, err = target.Transact(ctx, nil)
	require.NoError(t, err)
	rep, err := dcbackup.Verify(ctx, src, target, nil)
	require.NoError(t, err)
	assert.False(t, rep.OK(), "the empty transaction is a difference")
	_, err = src.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: datomic.Keyword("db/doc"), V: "later"}})
	require.NoError(t, err)
	_, err = dcbackup.BackupNext(ctx, "db", src, store, nil)
	require.NoError(t, err)
	requireRestoreRefused(t, store, target, dcbackup.ErrTargetModified)
}

func TestRestoreRefusesTargetOfAnotherBackup(t *testing.T) {
	ctx := context.Background()
	storeA, _ := backedUp(t, 3, 20, 5)
	storeB, _ := backedUp(t, 4, 20, 5)
	target := newTarget()
	_, err := dcbackup.RestoreSegment(ctx, "db", storeA, target, nil)
	require.NoError(t, err)
	requireRestoreRefused(t, storeB, target, dcbackup.ErrTargetModified)
}

func TestRestoreReportsGap(t *testing.T) {
	ctx := context.Background()
	store, src := backedUp(t, 5, 30, 3)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 3)
	missing := segs[2]
	holey := copySegments(t, store, "db", func(i int, _ dcbackup.SegmentInfo, data []byte) []byte {
		if i == 2 {
			return nil
		}
		return data
	})
	gaps, err := dcbackup.Gaps(ctx, "db", holey)
	require.NoError(t, err)
	require.Equal(t, []dcbackup.Gap{{StartT: missing.StartT, EndT: missing.EndT}}, gaps)

	target := newTarget()
	res, err := dcbackup.Restore(ctx, "db", holey, target, nil)
	require.ErrorIs(t, err, dcbackup.ErrGap)
	var gapErr *dcbackup.GapError
	require.ErrorAs(t, err, &gapErr)
	require.Equal(t, missing.StartT, gapErr.StartT)
	require.Equal(t, missing.EndT, gapErr.EndT)
	require.Less(t, res.LastT, missing.StartT, "nothing past the gap restored")

	// Repair fills the hole from the source; the restore then completes.
	_, err = dcbackup.Repair(ctx, "db", src, holey, nil)
	require.NoError(t, err)
	gaps, err = dcbackup.Gaps(ctx, "db", holey)
	require.NoError(t, err)
	require.Empty(t, gaps)
	_, err = dcbackup.Restore(ctx, "db", holey, target, nil)
	require.NoError(t, err)
	requireVerified(t, src, target)
}

func TestRestoreRefusesCorruptSegment(t *testing.T) {
	ctx := context.Background()
	store, src := backedUp(t, 6, 30, 4)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	bad := segs[len(segs)/2]
	corrupt := copySegments(t, store, "db", func(_ int, s dcbackup.SegmentInfo, data []byte) []byte {
		if s == bad {
			data[len(data)/2] ^= 0x40
		}
		return data
	})
	target := newTarget()
	res, err := dcbackup.Restore(ctx, "db", corrupt, target, nil)
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
	require.Contains(t, err.Error(), bad.String())
	require.Less(t, res.LastT, bad.StartT, "nothing of the corrupt segment applied")
	// The target holds exactly the segments before it.
	require.GreaterOrEqual(t, res.LastT, int64(0), "the segments before the corrupt one were restored")
	rep := requireVerified(t, src, target)
	require.Equal(t, res.LastT, rep.LastT)
}

func TestRestoreRefusesSegmentOfAnotherDatabase(t *testing.T) {
	ctx := context.Background()
	store, _ := backedUp(t, 7, 10, 100)
	other := copySegments(t, store, "other", nil)
	target := newTarget()
	_, err := dcbackup.Restore(ctx, "other", other, target, nil)
	require.ErrorIs(t, err, dcbackup.ErrWrongDatabase)
	txs, _ := logLen(t, target)
	require.Zero(t, txs)
}

// flakyConn fails the n-th Transact, either before applying it or after
// (the transaction commits but the caller sees an error, as when a
// connection drops while the result is on its way).
type flakyConn struct {
	datomic.Conn
	failAt     int
	afterApply bool
	calls      int
}

var errInjectedTransact = errors.New("injected failure")

func (c *flakyConn) Transact(ctx context.Context, ops []datomic.Op) (datomic.TxReport, error) {
	c.calls++
	if c.calls != c.failAt {
		return c.Conn.Transact(ctx, ops)
	}
	if c.afterApply {
		if _, err := c.Conn.Transact(ctx, ops); err != nil {
			return datomic.TxReport{}, err
		}
	}
	return datomic.TxReport{}, errInjectedTransact
}

// TestRestoreCrashAtEveryTransaction interrupts a restore at every
// transaction boundary, before and after the transaction commits, and
// resumes it: the result is always identical to an uninterrupted restore.
func TestRestoreCrashAtEveryTransaction(t *testing.T) {
	ctx := context.Background()
	crashPoints := 0
	for seed := uint64(8); seed < 12; seed++ {
		store, src := backedUp(t, seed, 25, 4)
		srcTxs, _ := logLen(t, src)
		for failAt := 1; failAt <= srcTxs+1; failAt++ {
			for _, after := range []bool{false, true} {
				target := newTarget()
				flaky := &flakyConn{Conn: target, failAt: failAt, afterApply: after}
				_, err := dcbackup.Restore(ctx, "db", store, flaky, nil)
				require.ErrorIs(t, err, errInjectedTransact)
				crashPoints++
				_, err = dcbackup.Restore(ctx, "db", store, target, nil)
				require.NoError(t, err)
				rep := requireVerified(t, src, target)
				require.Equal(t, srcTxs, rep.Transactions, "seed %d failAt %d after %v", seed, failAt, after)
			}
		}
	}
	t.Logf("%d crash points resumed", crashPoints)
}

// gateConn holds a connection's first Transact at a gate until released.
type gateConn struct {
	datomic.Conn
	arrived chan<- struct{}
	release <-chan struct{}
	once    sync.Once
}

func (c *gateConn) Transact(ctx context.Context, ops []datomic.Op) (datomic.TxReport, error) {
	c.once.Do(func() {
		c.arrived <- struct{}{}
		<-c.release
	})
	return c.Conn.Transact(ctx, ops)
}

// Two restores racing into one target: the marker's compare-and-swap lets
// exactly one apply each transaction; the loser is refused at its first
// transaction with nothing applied, and the target holds every source
// transaction once.
func TestRacingRestoresApplyEachTransactionOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, src := backedUp(t, 110, 30, 4)
	target := newTarget()
	_, err := dcbackup.RestoreSegment(ctx, "db", store, target, nil)
	require.NoError(t, err)

	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	type outcome struct {
		res dcbackup.RestoreResult
		err error
	}
	outcomes := make(chan outcome, 2)
	for range 2 {
		gated := &gateConn{Conn: target, arrived: arrived, release: release}
		go func() {
			res, err := dcbackup.Restore(ctx, "db", store, gated, nil)
			outcomes <- outcome{res, err}
		}()
	}
	for range 2 {
		select {
		case <-arrived:
		case <-ctx.Done():
			t.Fatal("the restores did not reach their first transaction")
		}
	}
	close(release)
	var won, lost []outcome
	for range 2 {
		o := <-outcomes
		if o.err == nil {
			won = append(won, o)
		} else {
			lost = append(lost, o)
		}
	}
	require.Len(t, won, 1)
	require.Len(t, lost, 1)
	require.ErrorIs(t, lost[0].err, datomic.ErrCASFailed)
	assert.Zero(t, lost[0].res.Transactions, "the loser applied nothing")
	assert.ErrorContains(t, lost[0].err, "nothing of it applied")
	srcTxs, _ := logLen(t, src)
	rep := requireVerified(t, src, target)
	assert.Equal(t, srcTxs, rep.Transactions)
}
