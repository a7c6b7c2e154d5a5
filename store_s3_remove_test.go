package dcbackup_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/internal/s3test"
)

// deleteCounter counts an S3 client's single-object and batch deletes.
type deleteCounter struct{ single, batch atomic.Int32 }

func (c *deleteCounter) transport() func(*http.Request, func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	return func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
		switch {
		case r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/backups/"):
			c.single.Add(1)
		case r.Method == http.MethodPost && r.URL.Query().Has("delete"):
			c.batch.Add(1)
		}
		return next(r)
	}
}

// DeleteSegments removes 2,500 segments in three DeleteObjects requests
// (at most 1,000 keys each), leaves every other segment, and does not
// count a segment already gone as an error.
func TestS3DeleteSegmentsInBatches(t *testing.T) {
	var deletes deleteCounter
	client := s3test.NewClient(t, wrapHTTP(deletes.transport()))
	bucket := s3test.NewBucket(t, client)
	ctx := t.Context()
	store, err := dcbackup.NewS3Store(client, bucket, "backups", dcbackup.S3Options{})
	require.NoError(t, err)

	const n = 2600
	segs := make([]dcbackup.SegmentInfo, n)
	for i := range segs {
		segs[i] = seg(int64(i+1), int64(i+2))
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if err := store.Save(ctx, "db", segs[i], []byte{byte(i)}); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	doomed := append([]dcbackup.SegmentInfo{seg(1_000_000, 1_000_001)}, segs[:2499]...) // one never written
	require.NoError(t, store.DeleteSegments(ctx, "db", doomed))
	assert.EqualValues(t, 3, deletes.batch.Load())
	assert.Zero(t, deletes.single.Load())

	left, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	assert.Equal(t, segs[2499:], stripSizes(left))

	// Deleting them again is not an error either.
	require.NoError(t, store.DeleteSegments(ctx, "db", segs[:10]))
	err = store.DeleteSegments(ctx, "bad name", segs[:1])
	require.ErrorIs(t, err, dcbackup.ErrInvalidDBName)
}

// Compact on S3 deletes the segments it merged in batches, not one request
// per segment, and the compacted store restores identically.
func TestS3CompactDeletesInBatches(t *testing.T) {
	var deletes deleteCounter
	client := s3test.NewClient(t, wrapHTTP(deletes.transport()))
	bucket := s3test.NewBucket(t, client)
	ctx := testCtx(t)
	store, err := dcbackup.NewS3Store(client, bucket, "backups", dcbackup.S3Options{})
	require.NoError(t, err)
	src := newSource(t, 142, 150, false)
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})

	res, err := dcbackup.Compact(ctx, "db", store, &dcbackup.CompactOptions{MaxTxPerSegment: 1000})
	require.NoError(t, err)
	require.Greater(t, res.Removed, 100)
	assert.Zero(t, deletes.single.Load())
	assert.LessOrEqual(t, int(deletes.batch.Load()), res.Merged)
	t.Logf("Compact of %d segments into %d: %d removed in %d DeleteObjects requests", res.Before, res.After, res.Removed, deletes.batch.Load())
	after, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	assert.Len(t, after, res.After)
	requireRestoresIdentically(t, store, src)
}
