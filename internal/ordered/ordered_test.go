package ordered_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/internal/ordered"
)

// Results come in the order of the items whatever order the workers
// finish in, and every worker's cleanup runs.
func TestMapKeepsOrder(t *testing.T) {
	items := make([]int, 100)
	for i := range items {
		items[i] = i
	}
	var workers, cleanups atomic.Int32
	newWorker := func() (func(context.Context, int) (int, error), func()) {
		workers.Add(1)
		return func(_ context.Context, i int) (int, error) { return i * i, nil }, func() { cleanups.Add(1) }
	}
	var got []int
	for r := range ordered.Map(t.Context(), 4, items, newWorker) {
		require.NoError(t, r.Err)
		require.Equal(t, r.Item*r.Item, r.Value)
		got = append(got, r.Item)
	}
	assert.Equal(t, items, got)
	assert.Equal(t, int32(4), workers.Load())
	assert.Equal(t, workers.Load(), cleanups.Load())
}

// While the consumer waits for a slow first item, the others run ahead by
// a bounded number: n+2 started in all.
func TestMapBoundsWorkAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 3
		items := make([]int, 50)
		for i := range items {
			items[i] = i
		}
		var started atomic.Int32
		release := make(chan struct{})
		newWorker := func() (func(context.Context, int) (int, error), func()) {
			return func(ctx context.Context, i int) (int, error) {
				started.Add(1)
				if i == 0 {
					<-release
				}
				return i, nil
			}, nil
		}
		count := 0
		go func() {
			synctest.Wait() // every goroutine is blocked: the work ahead is done
			assert.LessOrEqual(t, started.Load(), int32(n+2))
			assert.Greater(t, started.Load(), int32(n), "the other workers ran ahead")
			close(release)
		}()
		for r := range ordered.Map(t.Context(), n, items, newWorker) {
			require.NoError(t, r.Err)
			require.Equal(t, count, r.Item)
			count++
		}
		assert.Equal(t, len(items), count)
	})
}

// Breaking out of the loop stops the work and waits for the workers.
func TestMapStopsOnBreak(t *testing.T) {
	items := make([]int, 1000)
	var done atomic.Int32
	newWorker := func() (func(context.Context, int) (int, error), func()) {
		return func(ctx context.Context, i int) (int, error) { return i, ctx.Err() }, func() { done.Add(1) }
	}
	for range ordered.Map(t.Context(), 4, items, newWorker) {
		break
	}
	assert.Equal(t, int32(4), done.Load(), "every worker has finished when Map returns")
}

// An error of one item is its result; the items after it still run.
func TestMapPassesErrors(t *testing.T) {
	boom := errors.New("boom")
	newWorker := func() (func(context.Context, int) (int, error), func()) {
		return func(_ context.Context, i int) (int, error) {
			if i == 2 {
				return 0, boom
			}
			return i, nil
		}, nil
	}
	var errs []error
	for r := range ordered.Map(t.Context(), 2, []int{0, 1, 2, 3}, newWorker) {
		errs = append(errs, r.Err)
	}
	assert.Equal(t, []error{nil, nil, boom, nil}, errs)
}
