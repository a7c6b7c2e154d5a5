package dcbackup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Limits and defaults of the S3 store.
const (
	// S3MaxPutObjectSize is the largest object a single PutObject may
	// upload (5 GiB). Segments above S3Options.MultipartThreshold, which is
	// capped at this size, are uploaded in parts.
	S3MaxPutObjectSize = 5 << 30
	// S3MinPartSize is the smallest part S3 accepts in a multipart upload,
	// except for the last part (5 MiB).
	S3MinPartSize = 5 << 20
	// S3MaxParts is the most parts a multipart upload may have.
	S3MaxParts = 10000

	// DefaultS3MultipartThreshold is the default S3Options.MultipartThreshold.
	DefaultS3MultipartThreshold = 64 << 20
	// DefaultS3PartSize is the default S3Options.PartSize.
	DefaultS3PartSize = 16 << 20
	// DefaultS3PartConcurrency is the default S3Options.PartConcurrency.
	DefaultS3PartConcurrency = 4
	// DefaultS3MaxSegmentSize is the default S3Options.MaxSegmentSize.
	DefaultS3MaxSegmentSize = 1 << 30
	// DefaultS3ListPageSize is the default S3Options.ListPageSize, and the
	// largest page S3 returns.
	DefaultS3ListPageSize = 1000
	// DefaultS3ConflictRetries is the default S3Options.ConflictRetries.
	DefaultS3ConflictRetries = 4
)

// s3WriterMetaKey is the user metadata key (x-amz-meta-dcbackup-writer)
// holding a random token per Save call, so that a Save whose successful
// write was retried by the SDK (response lost, second attempt answered 412)
// recognises its own object instead of reporting ErrSegmentExists.
const s3WriterMetaKey = "dcbackup-writer"

// S3Options tunes an S3Store. The zero value is ready to use.
type S3Options struct {
	// MultipartThreshold is the size above which Save uses a multipart
	// upload instead of a single PutObject (default 64 MiB; values above
	// S3MaxPutObjectSize, PutObject's limit, are lowered to it).
	MultipartThreshold int64
	// PartSize is the size of each part of a multipart upload (default
	// 16 MiB). S3 requires at least S3MinPartSize for every part but the
	// last; the part size is raised when the segment would otherwise need
	// more than S3MaxParts parts.
	PartSize int64
	// PartConcurrency is how many parts of a multipart upload are sent at
	// once (default 4). Parts are slices of the segment, so it costs no
	// extra memory.
	PartConcurrency int
	// MaxSegmentSize bounds the size of a segment that Save accepts and Load
	// reads into memory (default 1 GiB).
	MaxSegmentSize int64
	// ListPageSize is the MaxKeys of each ListObjectsV2 request (default
	// and maximum 1000). Lowering it only makes sense in tests.
	ListPageSize int32
	// ConflictRetries is how often Save retries a write that the server
	// refused with 409 ConditionalRequestConflict (a concurrent conditional
	// write to the same key was in progress) while no object exists under
	// the key (default 4; negative means never).
	ConflictRetries int
}

func (o S3Options) withDefaults() S3Options {
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = DefaultS3MultipartThreshold
	}
	o.MultipartThreshold = min(o.MultipartThreshold, S3MaxPutObjectSize)
	if o.PartSize <= 0 {
		o.PartSize = DefaultS3PartSize
	}
	if o.PartConcurrency <= 0 {
		o.PartConcurrency = DefaultS3PartConcurrency
	}
	if o.MaxSegmentSize <= 0 {
		o.MaxSegmentSize = DefaultS3MaxSegmentSize
	}
	if o.ListPageSize <= 0 || o.ListPageSize > DefaultS3ListPageSize {
		o.ListPageSize = DefaultS3ListPageSize
	}
	if o.ConflictRetries == 0 {
		o.ConflictRetries = DefaultS3ConflictRetries
	}
	o.ConflictRetries = max(o.ConflictRetries, 0)
	return o
}

// S3Store is a BackupStore in an S3 bucket (or any S3-compatible server),
// using a caller-configured *s3.Client: credentials, region, endpoint,
// addressing style, retries and HTTP transport are the caller's.
//
// Segment seg of database db is the object
// "<prefix>/<db>/<SegmentFileName(seg)>" (without the leading
// "<prefix>/" when prefix is empty), for example
// "backups/mbrainz/0000000000000001000-0000000000000002000.seg", so a plain
// listing sorts by t and databases are kept apart by the trailing "/".
// Objects under a database's prefix whose names are not segment names are
// ignored.
//
// Save is a conditional write (If-None-Match: *): S3 publishes an object
// atomically when the upload completes, and refuses it with 412 if the key
// exists, so two writers racing for a segment cannot overwrite each other.
// Every upload carries its SHA-256 (x-amz-checksum-sha256) so that the
// server rejects bytes corrupted on the way. Segments above
// MultipartThreshold are uploaded in parts, with the condition on
// CompleteMultipartUpload; a failed multipart upload is aborted, and
// nothing is visible until it completes.
//
// An S3Store holds no mutable state and is safe for concurrent use.
type S3Store struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending in "/"
	opts   S3Options
}

var _ BackupStore = (*S3Store)(nil)

// NewS3Store returns a store keeping segments in bucket under prefix. A
// trailing "/" of prefix is optional; an empty prefix puts each database at
// the top of the bucket. The bucket must exist; NewS3Store makes no request.
func NewS3Store(client *s3.Client, bucket, prefix string, opts S3Options) (*S3Store, error) {
	if client == nil {
		return nil, errors.New("dcbackup: s3 store: nil client")
	}
	if bucket == "" {
		return nil, errors.New("dcbackup: s3 store: empty bucket name")
	}
	prefix = strings.TrimRight(prefix, "/")
	if strings.HasPrefix(prefix, "/") || strings.Contains(prefix, "//") {
		return nil, fmt.Errorf("dcbackup: s3 store: prefix %q has an empty path element", prefix)
	}
	if prefix != "" {
		prefix += "/"
	}
	return &S3Store{client: client, bucket: bucket, prefix: prefix, opts: opts.withDefaults()}, nil
}

// Bucket returns the store's bucket.
func (s *S3Store) Bucket() string { return s.bucket }

// Prefix returns the store's key prefix: empty or ending in "/".
func (s *S3Store) Prefix() string { return s.prefix }

// Key returns the object key that holds (or would hold) segment seg of db.
func (s *S3Store) Key(db string, seg SegmentInfo) string {
	return s.dbPrefix(db) + SegmentFileName(seg)
}

func (s *S3Store) dbPrefix(db string) string { return s.prefix + db + "/" }

func (s *S3Store) where(key string) string { return "s3://" + s.bucket + "/" + key }

// Save uploads data as segment seg of db, never overwriting; see
// BackupStore.Save and S3Store. It returns an error matching
// ErrSegmentExists when the key exists.
func (s *S3Store) Save(ctx context.Context, db string, seg SegmentInfo, data []byte) error {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return fmt.Errorf("dcbackup: save segment %s of database %q: %w", seg, db, err)
	}
	key := s.Key(db, seg)
	if err := s.save(ctx, key, data); err != nil {
		return fmt.Errorf("dcbackup: save segment %s of database %q to %s: %w", seg, db, s.where(key), err)
	}
	return nil
}

func (s *S3Store) save(ctx context.Context, key string, data []byte) error {
	if int64(len(data)) > s.opts.MaxSegmentSize {
		return fmt.Errorf("%d bytes exceed the maximum segment size %d", len(data), s.opts.MaxSegmentSize)
	}
	token, err := newWriterToken()
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		var err error
		if int64(len(data)) > s.opts.MultipartThreshold {
			err = s.putMultipart(ctx, key, data, token)
		} else {
			err = s.putObject(ctx, key, data, token)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errKeyExists), isPreconditionFailed(err):
			// The key exists. It may be our own object, if the SDK retried
			// a write whose response was lost.
			return s.existingObject(ctx, key, token, err)
		case isConditionalConflict(err):
			// Another conditional write to the key was in flight. If it
			// completed, the key exists; if not, try again.
			found, ours, herr := s.headObject(ctx, key, token)
			switch {
			case herr != nil:
				return errors.Join(err, herr)
			case ours:
				return nil
			case found:
				return fmt.Errorf("%w (%w)", ErrSegmentExists, err)
			case attempt >= s.opts.ConflictRetries:
				return err
			}
			if werr := sleep(ctx, time.Duration(25<<attempt)*time.Millisecond); werr != nil {
				return errors.Join(err, werr)
			}
		default:
			return s.afterFailedWrite(ctx, key, token, err)
		}
	}
}

// afterFailedWrite decides what a write that failed without a clear answer
// (no HTTP response, or a 5xx) means. The write may have succeeded (the
// response was lost), or the server may have refused it early: versitygw
// can answer a conditional PUT of a few MiB to an existing key with 412
// before it has read the body and reset the connection, which the client
// then sees as a write error. So look: our object means success, another
// object means ErrSegmentExists, no object means the error stands.
func (s *S3Store) afterFailedWrite(ctx context.Context, key, token string, cause error) error {
	if ctx.Err() != nil {
		return cause
	}
	if st := httpStatus(cause); st != 0 && st < 500 {
		return cause
	}
	found, ours, err := s.headObject(ctx, key, token)
	switch {
	case err != nil:
		return errors.Join(cause, fmt.Errorf("checking the key after the failure: %w", err))
	case ours:
		return nil
	case found:
		return fmt.Errorf("%w (%w)", ErrSegmentExists, cause)
	}
	return cause
}

// putObject uploads data in a single conditional PutObject.
func (s *S3Store) putObject(ctx context.Context, key string, data []byte, token string) error {
	sum := sha256.Sum256(data)
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(data), // seekable: required over plain http
		ContentLength:     aws.Int64(int64(len(data))),
		ContentType:       aws.String("application/octet-stream"),
		IfNoneMatch:       aws.String("*"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		Metadata:          map[string]string{s3WriterMetaKey: token},
	})
	return err
}

// existingObject returns the error for a write refused because the key
// exists: nil when the object is the one this Save wrote (token matches),
// else cause wrapped with ErrSegmentExists.
func (s *S3Store) existingObject(ctx context.Context, key, token string, cause error) error {
	_, ours, err := s.headObject(ctx, key, token)
	if err != nil {
		return fmt.Errorf("%w (%w); checking the existing object: %w", ErrSegmentExists, cause, err)
	}
	if ours {
		return nil
	}
	return fmt.Errorf("%w (%w)", ErrSegmentExists, cause)
}

// headObject reports whether an object exists under key and whether it was
// written with token.
func (s *S3Store) headObject(ctx context.Context, key, token string) (found, ours bool, err error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return true, out.Metadata[s3WriterMetaKey] == token, nil
}

// Load downloads segment seg of db; see BackupStore.Load. It asks the
// server for the object's stored checksum, which the SDK verifies while
// reading (for objects uploaded in one part), and refuses objects larger
// than S3Options.MaxSegmentSize.
func (s *S3Store) Load(ctx context.Context, db string, seg SegmentInfo) ([]byte, error) {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return nil, fmt.Errorf("dcbackup: load segment %s of database %q: %w", seg, db, err)
	}
	key := s.Key(db, seg)
	data, err := s.load(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: load segment %s of database %q from %s: %w", seg, db, s.where(key), err)
	}
	return data, nil
}

func (s *S3Store) load(ctx context.Context, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled,
	}, func(o *s3.Options) {
		// Objects uploaded in parts have a checksum of part checksums,
		// which the SDK cannot check and would warn about on every load;
		// the segment's own checksum covers them.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	if isNotFound(err) {
		return nil, fmt.Errorf("%w (%w)", ErrSegmentNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	limit := s.opts.MaxSegmentSize
	size := aws.ToInt64(out.ContentLength)
	if size > limit {
		return nil, fmt.Errorf("%w: object of %d bytes, more than the maximum segment size %d", ErrSegmentTooLarge, size, limit)
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(size, 0)+bytes.MinRead))
	n, err := buf.ReadFrom(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading object: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: object of more than the maximum segment size %d", ErrSegmentTooLarge, limit)
	}
	if size >= 0 && out.ContentLength != nil && n != size {
		return nil, fmt.Errorf("read %d bytes of an object of %d: %w", n, size, io.ErrUnexpectedEOF)
	}
	return buf.Bytes(), nil
}

// List returns the segments of db with StartT >= fromT, sorted by StartT
// (then EndT), with their sizes. It pages through ListObjectsV2 from the
// first key that can hold such a segment, so a listing from a recent fromT
// costs one request however many older segments there are.
func (s *S3Store) List(ctx context.Context, db string, fromT int64) ([]SegmentInfo, error) {
	if err := checkDBArgs(ctx, db); err != nil {
		return nil, fmt.Errorf("dcbackup: list segments of database %q: %w", db, err)
	}
	prefix := s.dbPrefix(db)
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(prefix),
		MaxKeys: aws.Int32(s.opts.ListPageSize),
	}
	if fromT > 0 {
		// Every key of a segment starting at or after fromT sorts after
		// the bare padded fromT; every earlier one sorts before it.
		in.StartAfter = aws.String(prefix + padT(fromT))
	}
	var out []SegmentInfo
	p := s3.NewListObjectsV2Paginator(s.client, in, func(o *s3.ListObjectsV2PaginatorOptions) {
		o.StopOnDuplicateToken = true
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("dcbackup: list segments of database %q under %s: %w", db, s.where(prefix), err)
		}
		out = appendSegments(out, prefix, page.Contents, fromT)
	}
	sortSegmentInfos(out)
	return out, nil
}

// appendSegments appends the segments among objs (keys under prefix) with
// StartT >= fromT, skipping objects that are not segments.
func appendSegments(out []SegmentInfo, prefix string, objs []types.Object, fromT int64) []SegmentInfo {
	for _, o := range objs {
		name, ok := strings.CutPrefix(aws.ToString(o.Key), prefix)
		if !ok {
			continue
		}
		seg, ok := ParseSegmentFileName(name)
		if !ok || seg.StartT < fromT {
			continue
		}
		seg.Size = aws.ToInt64(o.Size)
		out = append(out, seg)
	}
	return out
}

// padT formats t (>= 0) zero-padded like the t values of segment names.
func padT(t int64) string {
	return string(appendPadded(nil, t))
}

func newWriterToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("writer token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// httpStatus returns the HTTP status code of an SDK error, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound reports whether err says the object does not exist. A missing
// bucket is not a missing object.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	switch apiErrorCode(err) {
	case "NoSuchBucket":
		return false
	case "NoSuchKey", "NotFound":
		return true
	}
	return httpStatus(err) == http.StatusNotFound
}

func isPreconditionFailed(err error) bool {
	return err != nil && (apiErrorCode(err) == "PreconditionFailed" || httpStatus(err) == http.StatusPreconditionFailed)
}

func isConditionalConflict(err error) bool {
	return err != nil && (apiErrorCode(err) == "ConditionalRequestConflict" || httpStatus(err) == http.StatusConflict)
}
