package dcbackup_test

// Tests of the S3 store against a real S3-compatible server (see
// internal/s3test: start one with eval "$(.ci/s3-server.sh)").

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/internal/s3test"
	"github.com/dcbackup/dcbackup/internal/storetest"
)

func seg(start, end int64) dcbackup.SegmentInfo {
	return dcbackup.SegmentInfo{StartT: start, EndT: end}
}

func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b) // never fails
	return b
}

// roundTripFunc adapts a function to s3.HTTPClient.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// wrapHTTP returns a client option that passes every request through wrap
// before the real HTTP client.
func wrapHTTP(wrap func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error)) func(*s3.Options) {
	return func(o *s3.Options) {
		inner := o.HTTPClient
		if inner == nil {
			inner = http.DefaultClient
		}
		o.HTTPClient = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return wrap(r, inner.Do)
		})
	}
}

func noRetries(o *s3.Options) { o.RetryMaxAttempts = 1 }

func isListRequest(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2"
}

// isUpload reports a PutObject or UploadPart request for a segment (not,
// say, a CreateBucket).
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/backups/")
}

func TestS3StoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dcbackup.BackupStore {
		return s3test.NewStore(t, dcbackup.S3Options{})
	})
}

// TestS3StoreContractMultipart runs the contract with every segment above
// 1 MiB uploaded in 5 MiB parts (the large segment has 4 parts).
func TestS3StoreContractMultipart(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dcbackup.BackupStore {
		return s3test.NewStore(t, dcbackup.S3Options{MultipartThreshold: 1 << 20, PartSize: dcbackup.S3MinPartSize})
	})
}

func TestS3StoreKeys(t *testing.T) {
	s := s3test.NewStore(t, dcbackup.S3Options{})
	client := s3test.NewClient(t)
	ctx := t.Context()
	require.Equal(t, "backups/mbrainz/0000000000000000001-0000000000000001000.seg", s.Key("mbrainz", seg(1, 1000)))
	require.NoError(t, s.Save(ctx, "mbrainz", seg(1, 1000), []byte("x")))
	out, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(s.Key("mbrainz", seg(1, 1000)))})
	require.NoError(t, err)
	assert.EqualValues(t, 1, aws.ToInt64(out.ContentLength))

	for _, p := range []string{"", "a", "a/b/", "a/b"} {
		st, err := dcbackup.NewS3Store(client, "bucket", p, dcbackup.S3Options{})
		require.NoError(t, err)
		want := strings.TrimSuffix(p, "/")
		if want != "" {
			want += "/"
		}
		assert.Equal(t, want+"db/0000000000000000001-0000000000000000002.seg", st.Key("db", seg(1, 2)))
	}
	for _, p := range []string{"/a", "a//b"} {
		_, err := dcbackup.NewS3Store(client, "bucket", p, dcbackup.S3Options{})
		assert.Error(t, err, "prefix %q", p)
	}
	_, err = dcbackup.NewS3Store(nil, "bucket", "", dcbackup.S3Options{})
	assert.Error(t, err)
	_, err = dcbackup.NewS3Store(client, "", "", dcbackup.S3Options{})
	assert.Error(t, err)
}

// TestS3ForeignObjects: objects under a database's prefix that are not
// segments are ignored by List and Last.
func TestS3ForeignObjects(t *testing.T) {
	s := s3test.NewStore(t, dcbackup.S3Options{ListPageSize: 2})
	client := s3test.NewClient(t)
	ctx := t.Context()
	for _, k := range []string{".tmp-x", "README", "zzz", "0000000000000000005-0000000000000000004.seg", "sub/0000000000000000001-0000000000000000002.seg"} {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String("backups/db/" + k), Body: strings.NewReader("junk")})
		require.NoError(t, err)
	}
	_, ok, err := s.Last(ctx, "db")
	require.NoError(t, err)
	assert.False(t, ok)
	for i := range int64(5) {
		require.NoError(t, s.Save(ctx, "db", seg(10*i+1, 10*i+11), []byte("s")))
	}
	list, err := s.List(ctx, "db", 0)
	require.NoError(t, err)
	assert.Len(t, list, 5)
	last, ok, err := s.Last(ctx, "db")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, seg(41, 51), seg(last.StartT, last.EndT))
}

// TestS3RaceManyRounds: writers racing for one segment, many rounds, with
// single and multipart uploads: exactly one wins each round.
func TestS3RaceManyRounds(t *testing.T) {
	for _, tc := range []struct {
		name           string
		opts           dcbackup.S3Options
		size, writers  int
		rounds         int
		expectMultiple bool
	}{
		{"put", dcbackup.S3Options{}, 32 << 10, 8, 25, false},
		{"put large", dcbackup.S3Options{}, 6 << 20, 4, 4, false},
		{"multipart", dcbackup.S3Options{MultipartThreshold: 1 << 20, PartSize: dcbackup.S3MinPartSize}, 6 << 20, 4, 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s3test.NewStore(t, tc.opts)
			ctx := t.Context()
			for round := range tc.rounds {
				sg := seg(int64(round*100+1), int64(round*100+100))
				datas := make([][]byte, tc.writers)
				errs := make([]error, tc.writers)
				for i := range datas {
					datas[i] = randomBytes(uint64(round*100+i), tc.size)
				}
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range tc.writers {
					wg.Go(func() {
						<-start
						errs[i] = s.Save(ctx, "race", sg, datas[i])
					})
				}
				close(start)
				wg.Wait()
				winners := 0
				winner := -1
				for i, err := range errs {
					if err == nil {
						winners++
						winner = i
						continue
					}
					require.ErrorIs(t, err, dcbackup.ErrSegmentExists, "round %d writer %d", round, i)
					if round == 0 {
						t.Logf("loser: %v", err)
					}
				}
				require.Equal(t, 1, winners, "round %d", round)
				got, err := s.Load(ctx, "race", sg)
				require.NoError(t, err)
				require.True(t, bytes.Equal(datas[winner], got), "round %d: stored bytes are not the winner's", round)
			}
		})
	}
}

// failingBody returns an error after n bytes.
type failingBody struct {
	r io.ReadCloser
	n int
}

var errInjected = errors.New("injected failure: connection reset by test")

func (b *failingBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, errInjected
	}
	p = p[:min(len(p), b.n)]
	n, err := b.r.Read(p)
	b.n -= n
	return n, err
}

func (b *failingBody) Close() error { return b.r.Close() }

// TestS3FailedPutLeavesNothing: an upload whose body breaks off midway, or
// whose context is canceled midway, leaves no visible segment and no
// unfinished multipart upload, and a later Save of the segment succeeds.
func TestS3FailedPutLeavesNothing(t *testing.T) {
	const size = 12 << 20
	multipart := dcbackup.S3Options{MultipartThreshold: 1 << 20, PartSize: dcbackup.S3MinPartSize}
	for _, tc := range []struct {
		name   string
		opts   dcbackup.S3Options
		cancel bool
	}{
		{"put broken body", dcbackup.S3Options{}, false},
		{"put canceled", dcbackup.S3Options{}, true},
		{"multipart broken body", multipart, false},
		{"multipart canceled", multipart, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var uploads atomic.Int32
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			// Break (or cancel) the second upload request after 1 MiB of
			// its body: the PutObject, or the multipart upload's part 2.
			wrap := wrapHTTP(func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
				if isUpload(r) && uploads.Add(1) == map[bool]int32{false: 1, true: 2}[tc.opts.MultipartThreshold > 0] && r.Body != nil {
					if tc.cancel {
						r.Body = &cancelingBody{r: r.Body, n: 1 << 20, cancel: cancel}
					} else {
						r.Body = &failingBody{r: r.Body, n: 1 << 20}
					}
				}
				return next(r)
			})
			s := s3test.NewStore(t, tc.opts, wrap, noRetries)
			data := randomBytes(5, size)
			err := s.Save(ctx, "db", seg(1, 2), data)
			require.Error(t, err)
			require.NotErrorIs(t, err, dcbackup.ErrSegmentExists)
			if tc.cancel {
				require.ErrorIs(t, err, context.Canceled)
			}
			assert.Contains(t, err.Error(), "s3://"+s.Bucket()+"/backups/db/", "error names bucket and key")
			t.Logf("save error: %v", err)

			ctx = t.Context()
			list, err := s.List(ctx, "db", 0)
			require.NoError(t, err)
			assert.Empty(t, list, "a failed upload must leave no segment")
			_, err = s.Load(ctx, "db", seg(1, 2))
			require.ErrorIs(t, err, dcbackup.ErrSegmentNotFound)
			client := s3test.NewClient(t)
			mpu, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.Bucket())})
			require.NoError(t, err)
			assert.Empty(t, mpu.Uploads, "a failed multipart upload must be aborted")

			require.NoError(t, s.Save(ctx, "db", seg(1, 2), data))
			got, err := s.Load(ctx, "db", seg(1, 2))
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got))
		})
	}
}

// cancelingBody cancels a context after n bytes and then fails.
type cancelingBody struct {
	r      io.ReadCloser
	n      int
	cancel context.CancelFunc
}

func (b *cancelingBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		b.cancel()
		return 0, context.Canceled
	}
	p = p[:min(len(p), b.n)]
	n, err := b.r.Read(p)
	b.n -= n
	return n, err
}

func (b *cancelingBody) Close() error { return b.r.Close() }

// TestS3WrongChecksumRejected: the server verifies the SHA-256 the store
// sends with every upload, so bytes corrupted on the way are refused.
func TestS3WrongChecksumRejected(t *testing.T) {
	client := s3test.NewClient(t, noRetries)
	bucket := s3test.NewBucket(t, client)
	ctx := t.Context()
	data := randomBytes(9, 4096)
	other := sha256.Sum256(append([]byte{1}, data...))
	wrong := base64.StdEncoding.EncodeToString(other[:])

	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("k"), Body: bytes.NewReader(data),
		IfNoneMatch: aws.String("*"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(wrong),
	})
	require.Error(t, err, "the server accepted a body whose SHA-256 does not match")
	t.Logf("put with a wrong checksum: %v", err)
	_, err = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	require.Error(t, err, "the rejected object must not exist")

	// Multipart: a part with a wrong checksum is refused too.
	created, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String("m"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	})
	require.NoError(t, err)
	_, err = client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String("m"), UploadId: created.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(wrong),
	})
	require.Error(t, err, "the server accepted a part whose SHA-256 does not match")
	t.Logf("part with a wrong checksum: %v", err)
	_, err = client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("m"), UploadId: created.UploadId})
	require.NoError(t, err)

	// And the store sends the right one: the server keeps it.
	s, err := dcbackup.NewS3Store(client, bucket, "p", dcbackup.S3Options{})
	require.NoError(t, err)
	require.NoError(t, s.Save(ctx, "db", seg(1, 2), data))
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(s.Key("db", seg(1, 2))), ChecksumMode: types.ChecksumModeEnabled})
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), aws.ToString(head.ChecksumSHA256))
}

// TestS3LostResponseRetried: when the response to a successful upload is
// lost and the SDK retries, the retry meets 412; the store recognises its
// own object and reports success, not ErrSegmentExists.
func TestS3LostResponseRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts dcbackup.S3Options
		drop func(r *http.Request) bool
	}{
		{"put", dcbackup.S3Options{}, isUpload},
		{"multipart complete", dcbackup.S3Options{MultipartThreshold: 1 << 20, PartSize: dcbackup.S3MinPartSize}, func(r *http.Request) bool {
			return r.Method == http.MethodPost && r.URL.Query().Has("uploadId") && strings.Contains(r.URL.Path, "/backups/")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dropped atomic.Bool
			wrap := wrapHTTP(func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
				resp, err := next(r)
				if err == nil && tc.drop(r) && resp.StatusCode == http.StatusOK && dropped.CompareAndSwap(false, true) {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					return nil, errors.New("read tcp: connection reset by peer (response dropped by test)")
				}
				return resp, err
			})
			s := s3test.NewStore(t, tc.opts, wrap)
			ctx := t.Context()
			data := randomBytes(11, 6<<20)
			require.NoError(t, s.Save(ctx, "db", seg(1, 2), data))
			require.True(t, dropped.Load(), "the test did not drop a response")
			got, err := s.Load(ctx, "db", seg(1, 2))
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got))
			// A genuine second save is still refused.
			require.ErrorIs(t, s.Save(ctx, "db", seg(1, 2), data), dcbackup.ErrSegmentExists)
		})
	}
}

// TestS3LastRequestCount: Last is right over 500 segments with gaps and
// uses no more requests than documented; also with a small page size, so
// the search (not a single listing) is what is measured.
func TestS3LastRequestCount(t *testing.T) {
	var lists atomic.Int32
	count := wrapHTTP(func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
		if isListRequest(r) {
			lists.Add(1)
		}
		return next(r)
	})
	client := s3test.NewClient(t, count)
	bucket := s3test.NewBucket(t, client)
	ctx := t.Context()

	r := rand.New(rand.NewPCG(500, 1))
	var segs []dcbackup.SegmentInfo
	t0 := int64(1000)
	for range 500 {
		span := 1 + r.Int64N(3000)
		if r.IntN(8) == 0 {
			t0 += r.Int64N(1 << 20) // a gap
		}
		segs = append(segs, seg(t0, t0+span))
		t0 += span
	}
	writer, err := dcbackup.NewS3Store(client, bucket, "backups", dcbackup.S3Options{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(segs); i += 8 {
				if err := writer.Save(ctx, "db", segs[i], []byte{byte(i)}); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	want := segs[len(segs)-1]
	bound := 2*bits.Len64(uint64(want.StartT)) + 3

	for _, tc := range []struct {
		page int32
		max  int
	}{{0, 1}, {100, bound}, {10, bound}, {3, bound}} {
		s, err := dcbackup.NewS3Store(client, bucket, "backups", dcbackup.S3Options{ListPageSize: tc.page})
		require.NoError(t, err)
		lists.Store(0)
		last, ok, err := s.Last(ctx, "db")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, want, seg(last.StartT, last.EndT), "page %d", tc.page)
		assert.EqualValues(t, 1, last.Size)
		n := int(lists.Load())
		assert.LessOrEqual(t, n, tc.max, "page %d", tc.page)
		t.Logf("Last over %d segments with page size %d: %d ListObjectsV2 requests (bound %d)", len(segs), tc.page, n, tc.max)
	}

	// List from a recent t costs one request however many segments precede.
	lists.Store(0)
	list, err := writer.List(ctx, "db", segs[495].StartT)
	require.NoError(t, err)
	assert.Equal(t, segs[495:], stripSizes(list))
	assert.EqualValues(t, 1, lists.Load())
}

func stripSizes(l []dcbackup.SegmentInfo) []dcbackup.SegmentInfo {
	out := make([]dcbackup.SegmentInfo, len(l))
	for i, s := range l {
		out[i] = seg(s.StartT, s.EndT)
	}
	return out
}

// TestS3SizeBound: Save refuses and Load does not read past MaxSegmentSize.
func TestS3SizeBound(t *testing.T) {
	client := s3test.NewClient(t)
	bucket := s3test.NewBucket(t, client)
	ctx := t.Context()
	s, err := dcbackup.NewS3Store(client, bucket, "", dcbackup.S3Options{MaxSegmentSize: 1000})
	require.NoError(t, err)
	require.Error(t, s.Save(ctx, "db", seg(1, 2), make([]byte, 1001)))
	require.NoError(t, s.Save(ctx, "db", seg(1, 2), make([]byte, 1000)))
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(s.Key("db", seg(2, 3))), Body: bytes.NewReader(make([]byte, 5000))})
	require.NoError(t, err)
	_, err = s.Load(ctx, "db", seg(2, 3))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "maximum segment size")
}

// TestS3Errors: failures other than a missing object are returned, wrapped
// with the bucket and key, never mistaken for ErrSegmentNotFound.
func TestS3Errors(t *testing.T) {
	client := s3test.NewClient(t, noRetries)
	ctx := t.Context()
	s, err := dcbackup.NewS3Store(client, "dcb-no-such-bucket-"+fmt.Sprint(rand.New(rand.NewPCG(1, 2)).Uint32()), "p", dcbackup.S3Options{})
	require.NoError(t, err)
	_, err = s.Load(ctx, "db", seg(1, 2))
	require.Error(t, err)
	assert.NotErrorIs(t, err, dcbackup.ErrSegmentNotFound)
	assert.Contains(t, err.Error(), "s3://"+s.Bucket()+"/p/db/0000000000000000001-0000000000000000002.seg")
	err = s.Save(ctx, "db", seg(1, 2), []byte("x"))
	require.Error(t, err)
	assert.NotErrorIs(t, err, dcbackup.ErrSegmentExists)
	_, err = s.List(ctx, "db", 0)
	require.Error(t, err)
	_, _, err = s.Last(ctx, "db")
	require.Error(t, err)
}

// conflictResponse is a 409 ConditionalRequestConflict as S3 sends it when
// another conditional write to the key is in progress.
func conflictResponse(r *http.Request) *http.Response {
	body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code>` +
		`<Message>A conflicting conditional operation is currently in progress against this resource.</Message></Error>`
	return &http.Response{
		StatusCode:    http.StatusConflict,
		Status:        "409 Conflict",
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": []string{"application/xml"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// TestS3ConditionalConflict: a 409 ConditionalRequestConflict is retried
// while the key is free, and becomes ErrSegmentExists once it is taken;
// it never makes a Save report success or existence wrongly.
func TestS3ConditionalConflict(t *testing.T) {
	var puts, conflicts atomic.Int32
	conflict := wrapHTTP(func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
		if isUpload(r) {
			puts.Add(1)
			if conflicts.Add(-1) >= 0 {
				if r.Body != nil {
					_ = r.Body.Close()
				}
				return conflictResponse(r), nil
			}
		}
		return next(r)
	})
	s := s3test.NewStore(t, dcbackup.S3Options{}, conflict)
	ctx := t.Context()

	// Two conflicts, then the key is free: the third attempt stores it.
	conflicts.Store(2)
	require.NoError(t, s.Save(ctx, "db", seg(1, 2), []byte("a")))
	assert.EqualValues(t, 3, puts.Load())
	got, err := s.Load(ctx, "db", seg(1, 2))
	require.NoError(t, err)
	assert.Equal(t, []byte("a"), got)

	// A conflict while the key is taken: ErrSegmentExists, no retry.
	puts.Store(0)
	conflicts.Store(1)
	require.ErrorIs(t, s.Save(ctx, "db", seg(1, 2), []byte("b")), dcbackup.ErrSegmentExists)
	assert.EqualValues(t, 1, puts.Load())

	// Endless conflicts on a free key: the retries are bounded and the
	// error says what happened.
	s2, err := dcbackup.NewS3Store(s3test.NewClient(t, conflict), s.Bucket(), "backups/other", dcbackup.S3Options{ConflictRetries: 2})
	require.NoError(t, err)
	puts.Store(0)
	conflicts.Store(100)
	err = s2.Save(ctx, "db", seg(1, 2), []byte("c"))
	require.Error(t, err)
	assert.NotErrorIs(t, err, dcbackup.ErrSegmentExists)
	assert.Contains(t, err.Error(), "ConditionalRequestConflict")
	assert.EqualValues(t, 3, puts.Load())
}

// flipBody flips one byte of a response body.
type flipBody struct {
	r   io.ReadCloser
	at  int
	pos int
}

func (b *flipBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.at >= b.pos && b.at < b.pos+n {
		p[b.at-b.pos] ^= 0x40
	}
	b.pos += n
	return n, err
}

func (b *flipBody) Close() error { return b.r.Close() }

// TestS3CorruptDownloadDetected: Load asks for the stored SHA-256 and the
// SDK checks the downloaded bytes against it, so a segment corrupted on the
// way back is an error, not wrong data.
func TestS3CorruptDownloadDetected(t *testing.T) {
	var corrupt atomic.Bool
	flip := wrapHTTP(func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
		resp, err := next(r)
		if err == nil && corrupt.Load() && r.Method == http.MethodGet && isUploadPath(r) && resp.StatusCode == http.StatusOK {
			resp.Body = &flipBody{r: resp.Body, at: 1000}
		}
		return resp, err
	})
	s := s3test.NewStore(t, dcbackup.S3Options{}, flip, noRetries)
	ctx := t.Context()
	data := randomBytes(13, 64<<10)
	require.NoError(t, s.Save(ctx, "db", seg(1, 2), data))
	corrupt.Store(true)
	_, err := s.Load(ctx, "db", seg(1, 2))
	require.Error(t, err)
	assert.Contains(t, strings.ToLower(err.Error()), "checksum")
	t.Logf("corrupted download: %v", err)
	corrupt.Store(false)
	got, err := s.Load(ctx, "db", seg(1, 2))
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
}

func isUploadPath(r *http.Request) bool { return strings.Contains(r.URL.Path, "/backups/") }

// TestS3LastLargeStore measures Last over 100,000 real segments (about a
// minute to create on a local versitygw). Run it with
// DCBACKUP_S3_LARGE=1 go test -run TestS3LastLargeStore -v .
func TestS3LastLargeStore(t *testing.T) {
	if os.Getenv("DCBACKUP_S3_LARGE") != "1" {
		t.Skip("set DCBACKUP_S3_LARGE=1 to create 100,000 segments and measure Last")
	}
	var lists atomic.Int32
	count := wrapHTTP(func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
		if isListRequest(r) {
			lists.Add(1)
		}
		return next(r)
	})
	s := s3test.NewStore(t, dcbackup.S3Options{}, count)
	ctx := t.Context()
	const n, span = 100_000, 1000
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for w := range 32 {
		wg.Go(func() {
			for i := w; i < n; i += 32 {
				if err := s.Save(ctx, "db", seg(int64(i*span+1), int64((i+1)*span+1)), []byte{1}); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	t.Logf("created %d segments in %v", n, time.Since(begin))

	lists.Store(0)
	begin = time.Now()
	last, ok, err := s.Last(ctx, "db")
	elapsed := time.Since(begin)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, seg((n-1)*span+1, n*span+1), seg(last.StartT, last.EndT))
	t.Logf("Last over %d segments: %d ListObjectsV2 requests, %v", n, lists.Load(), elapsed)

	lists.Store(0)
	begin = time.Now()
	list, err := s.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Len(t, list, n)
	t.Logf("List of %d segments: %d ListObjectsV2 requests, %v", n, lists.Load(), time.Since(begin))
}
