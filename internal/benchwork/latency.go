package benchwork

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dcbackup/dcbackup"
)

// LatencyStore wraps a store and adds a fixed delay to every read request
// (Load, LoadHead, List and Last), as an object store's first-byte latency
// does (about 20 ms for an S3 GET or LIST), so that a restore's wait for the
// store can be measured without a remote store. Writes (Save, Delete,
// Quarantine) pass through undelayed. It counts the read requests. It is
// safe for concurrent use; the requests it delays run concurrently, as an
// object store's do.
type LatencyStore struct {
	store dcbackup.BackupStore
	delay time.Duration

	loads, heads, lists, lasts atomic.Int64
}

var (
	_ dcbackup.BackupStore    = (*LatencyStore)(nil)
	_ dcbackup.HeadLoader     = (*LatencyStore)(nil)
	_ dcbackup.SegmentRemover = (*LatencyStore)(nil)
)

// NewLatencyStore returns store with delay added to every read request (0:
// none, for counting requests only).
func NewLatencyStore(store dcbackup.BackupStore, delay time.Duration) *LatencyStore {
	return &LatencyStore{store: store, delay: max(delay, 0)}
}

// Delay is the latency added to each read request.
func (s *LatencyStore) Delay() time.Duration { return s.delay }

// StoreRequests counts the read requests of a LatencyStore.
type StoreRequests struct {
	Loads, LoadHeads, Lists, Lasts int64
}

// Total is the number of read requests.
func (r StoreRequests) Total() int64 { return r.Loads + r.LoadHeads + r.Lists + r.Lasts }

// Sub returns the requests counted since before.
func (r StoreRequests) Sub(before StoreRequests) StoreRequests {
	return StoreRequests{r.Loads - before.Loads, r.LoadHeads - before.LoadHeads, r.Lists - before.Lists, r.Lasts - before.Lasts}
}

// Requests returns the read requests made so far.
func (s *LatencyStore) Requests() StoreRequests {
	return StoreRequests{s.loads.Load(), s.heads.Load(), s.lists.Load(), s.lasts.Load()}
}

// wait holds a request for the delay, or until ctx ends.
func (s *LatencyStore) wait(ctx context.Context, n *atomic.Int64) error {
	n.Add(1)
	if s.delay <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Save stores the segment, without delay.
func (s *LatencyStore) Save(ctx context.Context, db string, seg dcbackup.SegmentInfo, data []byte) error {
	return s.store.Save(ctx, db, seg, data)
}

// Load waits for the delay and loads the segment.
func (s *LatencyStore) Load(ctx context.Context, db string, seg dcbackup.SegmentInfo) ([]byte, error) {
	if err := s.wait(ctx, &s.loads); err != nil {
		return nil, err
	}
	return s.store.Load(ctx, db, seg)
}

// LoadHead waits for the delay and reads the first n bytes of the segment
// (with the wrapped store's LoadHead, or a whole Load cut to n bytes).
func (s *LatencyStore) LoadHead(ctx context.Context, db string, seg dcbackup.SegmentInfo, n int) ([]byte, error) {
	if err := s.wait(ctx, &s.heads); err != nil {
		return nil, err
	}
	if hl, ok := s.store.(dcbackup.HeadLoader); ok {
		return hl.LoadHead(ctx, db, seg, n)
	}
	data, err := s.store.Load(ctx, db, seg)
	if err != nil {
		return nil, err
	}
	return data[:min(n, len(data))], nil
}

// List waits for the delay and lists the segments.
func (s *LatencyStore) List(ctx context.Context, db string, fromT int64) ([]dcbackup.SegmentInfo, error) {
	if err := s.wait(ctx, &s.lists); err != nil {
		return nil, err
	}
	return s.store.List(ctx, db, fromT)
}

// Last waits for the delay and returns the newest segment.
func (s *LatencyStore) Last(ctx context.Context, db string) (dcbackup.SegmentInfo, bool, error) {
	if err := s.wait(ctx, &s.lasts); err != nil {
		return dcbackup.SegmentInfo{}, false, err
	}
	return s.store.Last(ctx, db)
}

// Quarantine moves the segment aside in the wrapped store, without delay.
func (s *LatencyStore) Quarantine(ctx context.Context, db string, seg dcbackup.SegmentInfo) (string, error) {
	rm, ok := s.store.(dcbackup.SegmentRemover)
	if !ok {
		return "", fmt.Errorf("benchwork: the wrapped store (%T) cannot remove segments", s.store)
	}
	return rm.Quarantine(ctx, db, seg)
}

// Delete removes the segment from the wrapped store, without delay.
func (s *LatencyStore) Delete(ctx context.Context, db string, seg dcbackup.SegmentInfo) error {
	rm, ok := s.store.(dcbackup.SegmentRemover)
	if !ok {
		return fmt.Errorf("benchwork: the wrapped store (%T) cannot remove segments", s.store)
	}
	return rm.Delete(ctx, db, seg)
}

// String names the store in messages.
func (s *LatencyStore) String() string {
	return fmt.Sprintf("%s with %v latency", storeLabel(s.store), s.delay)
}

func storeLabel(s dcbackup.BackupStore) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}
