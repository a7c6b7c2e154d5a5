package dcbackup

import (
	"context"
	"iter"
	"sync"
)

// fetched is the outcome of one item of an ordered fetch.
type fetched[T, R any] struct {
	item T
	res  R
	err  error
}

// fetchOrdered runs work on every item of items with up to n calls at
// once (n < 1 means 1) and yields the results in the order of items, so
// that loads and decodes overlap while the consumer applies them strictly
// in order. At most 2n results are held at a time (n in flight, n done and
// waiting for the consumer), which bounds memory by 2n items' worth.
// newWorker runs once per worker goroutine and returns the function it
// applies (and a cleanup), so that each worker can own a decoder. Breaking
// out of the loop cancels the work in flight and waits for it.
func fetchOrdered[T, R any](ctx context.Context, n int, items []T,
	newWorker func() (func(context.Context, T) (R, error), func()),
) iter.Seq[fetched[T, R]] {
	return func(yield func(fetched[T, R]) bool) {
		n = max(n, 1)
		n = min(n, max(len(items), 1))
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		type job struct {
			item T
			out  chan fetched[T, R]
		}
		work := make(chan job)
		order := make(chan chan fetched[T, R], n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				do, done := newWorker()
				if done != nil {
					defer done()
				}
				for j := range work {
					f := fetched[T, R]{item: j.item}
					if f.err = ctx.Err(); f.err == nil {
						f.res, f.err = do(ctx, j.item)
					}
					j.out <- f
				}
			})
		}
		// The producer hands each job to a worker before it queues the
		// job's result channel, so every queued channel is written.
		go func() {
			defer close(order)
			defer close(work)
			for _, it := range items {
				j := job{item: it, out: make(chan fetched[T, R], 1)}
				select {
				case work <- j:
				case <-ctx.Done():
					return
				}
				select {
				case order <- j.out:
				case <-ctx.Done():
					return
				}
			}
		}()
		defer wg.Wait()
		defer cancel()
		for out := range order {
			if !yield(<-out) {
				return
			}
		}
	}
}
