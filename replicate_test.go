package dcbackup_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/histgen"
	"github.com/stretchr/testify/require"
)

// TestReplicateFollowsContinuousBackup runs a continuous backup and a
// replica side by side while the source is written to, and waits (through
// the lag callback, not by sleeping) until the replica has the last source
// transaction.
func TestReplicateFollowsContinuousBackup(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	src := mem.New(mem.Options{Clock: newStepClock().Now, SharedCounter: true})
	gen, err := histgen.New(ctx, src, histgen.Config{Seed: 9})
	require.NoError(t, err)
	store := dcbackup.NewMemStore()
	target := newTarget()

	var wg sync.WaitGroup
	var backupErr, replicaErr error
	var backups atomic.Int64
	wg.Add(2)
	go func() {
		defer wg.Done()
		backupErr = dcbackup.ContinuousBackup(ctx, "db", src, store, &dcbackup.ContinuousBackupOptions{
			Interval: time.Millisecond,
			Backup:   dcbackup.BackupOptions{MaxTxPerSegment: 4},
			OnResult: func(r dcbackup.BackupResult, err error) {
				if err == nil {
					backups.Add(int64(r.Segments))
				}
			},
		})
	}()
	lags := make(chan dcbackup.Lag, 1)
	go func() {
		defer wg.Done()
		replicaErr = dcbackup.Replicate(ctx, "db", store, target, &dcbackup.ReplicateOptions{
			PollInterval:       time.Millisecond,
			WaitForFirstBackup: true,
			OnLag: func(l dcbackup.Lag) {
				select {
				case lags <- l:
				default:
				}
			},
		})
	}()
	for range 3 {
		_, err := gen.Run(ctx, 15)
		require.NoError(t, err)
	}
	want := basisT(t, src)
	deadline := time.After(60 * time.Second)
	for caughtUp := false; !caughtUp; {
		select {
		case l := <-lags:
			if !errors.Is(l.Err, dcbackup.ErrNoSegments) {
				require.NoError(t, l.Err)
			}
			caughtUp = l.RestoredT == want && l.CaughtUp()
		case <-deadline:
			t.Fatal("replica did not catch up")
		}
	}
	cancel()
	wg.Wait()
	require.ErrorIs(t, backupErr, context.Canceled)
	require.ErrorIs(t, replicaErr, context.Canceled)
	require.Positive(t, backups.Load())
	requireVerified(t, src, target)
}

func TestReplicateStopsOnCorruption(t *testing.T) {
	ctx := testCtx(t)
	store, _ := backedUp(t, 21, 20, 5)
	n, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	bad := copySegments(t, store, "db", func(i int, _ dcbackup.SegmentInfo, data []byte) []byte {
		if i == len(n)-1 {
			data[len(data)-1] ^= 1
		}
		return data
	})
	err = dcbackup.Replicate(ctx, "db", bad, newTarget(), &dcbackup.ReplicateOptions{PollInterval: time.Millisecond})
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
}

// flakyStore fails the first n List calls with a transient error.
type flakyStore struct {
	dcbackup.BackupStore
	failures atomic.Int64
}

var errUnreachable = errors.New("store unreachable")

func (s *flakyStore) List(ctx context.Context, db string, from int64) ([]dcbackup.SegmentInfo, error) {
	if s.failures.Add(-1) >= 0 {
		return nil, errUnreachable
	}
	return s.BackupStore.List(ctx, db, from)
}

func TestReplicateRetriesTransientErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	store, src := backedUp(t, 22, 20, 5)
	flaky := &flakyStore{BackupStore: store}
	flaky.failures.Store(3)
	target := newTarget()
	want := basisT(t, src)
	var transient int
	err := dcbackup.Replicate(ctx, "db", flaky, target, &dcbackup.ReplicateOptions{
		PollInterval: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		OnLag: func(l dcbackup.Lag) {
			if l.Err != nil {
				require.ErrorIs(t, l.Err, errUnreachable)
				transient++
			}
			if l.RestoredT == want {
				cancel()
			}
		},
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 3, transient)
	requireVerified(t, src, target)
}

func TestReplicateStopsAtStopPoint(t *testing.T) {
	store, src := backedUp(t, 23, 20, 5)
	var ts []int64
	for tx, err := range src.TxRange(context.Background(), 0, 0) {
		require.NoError(t, err)
		ts = append(ts, tx.T)
	}
	target := newTarget()
	err := dcbackup.Replicate(testCtx(t), "db", store, target, &dcbackup.ReplicateOptions{
		PollInterval: time.Millisecond, Restore: dcbackup.RestoreOptions{UntilT: ts[5]},
	})
	require.NoError(t, err)
	rep := requireVerified(t, src, target)
	require.Equal(t, ts[5], rep.LastT)
}

// failingStore refuses every write.
type failingStore struct{ dcbackup.BackupStore }

func (failingStore) Save(context.Context, string, dcbackup.SegmentInfo, []byte) error {
	return errUnreachable
}

func TestContinuousBackupGivesUpAfterMaxFailures(t *testing.T) {
	src := newSource(t, 24, 10, false)
	var results []error
	err := dcbackup.ContinuousBackup(testCtx(t), "db", src, failingStore{dcbackup.NewMemStore()}, &dcbackup.ContinuousBackupOptions{
		Interval: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxFailures: 3,
		OnResult: func(_ dcbackup.BackupResult, err error) { results = append(results, err) },
	})
	require.ErrorIs(t, err, errUnreachable)
	require.Len(t, results, 3)
	for _, e := range results {
		require.ErrorIs(t, e, errUnreachable, "every failure reported, none swallowed")
	}
}

// A standby keeps following a store whose segment after the last restored
// transaction holds no transaction (a range without any): the next poll
// still finds the segment of that transaction.
func TestReplicateAcrossAnEmptySegment(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	src := mem.New(mem.Options{Clock: newStepClock().Now, SharedCounter: true})
	g, err := histgen.New(ctx, src, histgen.Config{Seed: 190})
	require.NoError(t, err)
	_, err = g.Run(ctx, 10)
	require.NoError(t, err)
	var ts []int64
	for tx, err := range src.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		ts = append(ts, tx.T)
	}
	i := len(ts) - 2
	for i > 0 && ts[i+1]-ts[i] < 2 {
		i--
	}
	require.Positive(t, i, "a gap in t")
	// The segment of transaction i, then an empty one up to the next
	// transaction: the newest until the source grows.
	store := dcbackup.NewMemStore()
	for _, r := range [][2]int64{{0, ts[i] + 1}, {ts[i] + 1, ts[i+1]}} {
		_, err := dcbackup.BackupSegment(ctx, "db", src, store, r[0], r[1], nil)
		require.NoError(t, err)
	}

	target := newTarget()
	polls := 0
	err = dcbackup.Replicate(ctx, "db", store, target, &dcbackup.ReplicateOptions{
		PollInterval: time.Millisecond,
		OnLag: func(l dcbackup.Lag) {
			require.NoError(t, l.Err)
			polls++
			switch {
			case polls == 2:
				// Caught up with the store; now it grows.
				_, err := g.Run(ctx, 5)
				require.NoError(t, err)
				_, err = dcbackup.Backup(ctx, "db", src, store, nil)
				require.NoError(t, err)
			case polls > 2 && l.CaughtUp() && l.RestoredT == basisT(t, src):
				cancel()
			}
		},
	})
	require.ErrorIs(t, err, context.Canceled)
	requireVerified(t, src, target)
}
