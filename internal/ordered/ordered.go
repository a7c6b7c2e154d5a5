// Package ordered runs work on a list of items concurrently and yields the
// results in the order of the list, with bounded memory.
package ordered

import (
	"context"
	"iter"
	"sync"
)

// Result is the outcome of one item.
type Result[T, R any] struct {
	Item  T
	Value R
	Err   error
}

// Map runs work on every item of items with up to n calls at once (n < 1
// means 1) and yields the results in the order of items, so that loads and
// decodes overlap while the consumer takes them strictly in order. At most
// n+2 items are started and not yet consumed at a time: the one the
// consumer waits for or holds, n queued behind it (in flight or done), and
// one handed to a worker before it can be queued. newWorker runs once per worker goroutine and returns the
// function it applies and a cleanup (may be nil), so that each worker can
// own a decoder. An item reached after ctx ended gets ctx's error without
// running. Breaking out of the loop cancels the work in flight and waits
// for it.
func Map[T, R any](ctx context.Context, n int, items []T,
	newWorker func() (func(context.Context, T) (R, error), func()),
) iter.Seq[Result[T, R]] {
	return func(yield func(Result[T, R]) bool) {
		n = min(max(n, 1), max(len(items), 1))
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		type job struct {
			item T
			out  chan Result[T, R]
		}
		work := make(chan job)
		order := make(chan chan Result[T, R], n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				do, done := newWorker()
				if done != nil {
					defer done()
				}
				for j := range work {
					r := Result[T, R]{Item: j.item}
					if r.Err = ctx.Err(); r.Err == nil {
						r.Value, r.Err = do(ctx, j.item)
					}
					j.out <- r
				}
			})
		}
		// The producer hands each job to a worker before it queues the
		// job's result channel, so every queued channel is written.
		go func() {
			defer close(order)
			defer close(work)
			for _, it := range items {
				j := job{item: it, out: make(chan Result[T, R], 1)}
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
