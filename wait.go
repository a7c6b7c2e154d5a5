package dcbackup

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff computes polling delays: a base delay when idle, doubling on
// consecutive failures up to a cap, each with ±20% jitter so that many
// followers of one store do not poll in step.
type backoff struct {
	base, max time.Duration
	failures  int
}

func (b *backoff) idle() time.Duration {
	b.failures = 0
	return jitter(b.base)
}

func (b *backoff) failed() time.Duration {
	b.failures++
	d := b.base
	for i := 1; i < b.failures && d < b.max; i++ {
		d *= 2
	}
	return jitter(min(d, b.max))
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
