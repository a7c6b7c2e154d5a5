package s3test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Memory is an in-memory S3 of buckets and objects with the GetObject,
// PutObject and DeleteObject calls of an *s3.Client: enough for the
// keyfiles of peertest's fake Cloud system (peertest.S3) and for the
// cloud client (cloud.S3API), so that tests of them need no S3 server.
// It is safe for concurrent use.
//
// Errors are those S3 answers, as the SDK returns them: a missing bucket
// is a *types.NoSuchBucket, a missing object a *types.NoSuchKey, a failed
// If-None-Match: * a smithy.APIError with code PreconditionFailed. A
// request option Memory does not implement (a range, another condition)
// is refused rather than ignored.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]map[string]memObject
}

// memObject is a stored object: its content, written once.
type memObject struct {
	data     []byte
	etag     string
	modified time.Time
}

// NewMemory returns an in-memory S3 holding the given (empty) buckets.
func NewMemory(buckets ...string) *Memory {
	m := &Memory{buckets: map[string]map[string]memObject{}}
	for _, b := range buckets {
		m.buckets[b] = map[string]memObject{}
	}
	return m
}

// CreateBucket creates an empty bucket, or answers BucketAlreadyOwnedByYou.
func (m *Memory) CreateBucket(ctx context.Context, in *s3.CreateBucketInput, _ ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := aws.ToString(in.Bucket)
	if name == "" {
		return nil, errInvalid("CreateBucket", "no bucket name")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.buckets[name]; ok {
		return nil, &types.BucketAlreadyOwnedByYou{Message: aws.String("bucket " + name + " exists")}
	}
	m.buckets[name] = map[string]memObject{}
	return &s3.CreateBucketOutput{Location: aws.String("/" + name)}, nil
}

// GetObject returns a copy of an object's content.
func (m *Memory) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case in.Range != nil, in.PartNumber != nil, in.VersionId != nil,
		in.IfMatch != nil, in.IfNoneMatch != nil, in.IfModifiedSince != nil, in.IfUnmodifiedSince != nil:
		return nil, errUnsupported("GetObject", "ranges, parts, versions and conditions")
	}
	bucket, key := aws.ToString(in.Bucket), aws.ToString(in.Key)
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, ok := m.buckets[bucket]
	if !ok {
		return nil, noSuchBucket(bucket)
	}
	o, ok := objs[key]
	if !ok {
		return nil, &types.NoSuchKey{Message: aws.String(fmt.Sprintf("no object %s in bucket %s", key, bucket))}
	}
	return &s3.GetObjectOutput{
		Body:          io.NopCloser(bytes.NewReader(bytes.Clone(o.data))),
		ContentLength: aws.Int64(int64(len(o.data))),
		ETag:          aws.String(o.etag),
		LastModified:  aws.Time(o.modified),
	}, nil
}

// PutObject stores an object, replacing any object of the same key unless
// IfNoneMatch is "*". The body is read whole before anything is stored.
func (m *Memory) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in.IfMatch != nil || in.IfNoneMatch != nil && aws.ToString(in.IfNoneMatch) != "*" {
		return nil, errUnsupported("PutObject", "conditions other than If-None-Match: *")
	}
	bucket, key := aws.ToString(in.Bucket), aws.ToString(in.Key)
	if key == "" {
		return nil, errInvalid("PutObject", "no object key")
	}
	var data []byte
	if in.Body != nil {
		var err error
		if data, err = io.ReadAll(in.Body); err != nil {
			return nil, fmt.Errorf("s3test: PutObject %s/%s: read body: %w", bucket, key, err)
		}
	}
	sum := md5.Sum(data)
	o := memObject{data: data, etag: `"` + hex.EncodeToString(sum[:]) + `"`, modified: time.Now().UTC()}
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, ok := m.buckets[bucket]
	if !ok {
		return nil, noSuchBucket(bucket)
	}
	if _, exists := objs[key]; exists && in.IfNoneMatch != nil {
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed",
			Message: fmt.Sprintf("object %s exists in bucket %s", key, bucket)}
	}
	objs[key] = o
	return &s3.PutObjectOutput{ETag: aws.String(o.etag), Size: aws.Int64(int64(len(data)))}, nil
}

// DeleteObject removes an object; removing one that does not exist
// succeeds, as in S3.
func (m *Memory) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in.VersionId != nil || in.IfMatch != nil {
		return nil, errUnsupported("DeleteObject", "versions and conditions")
	}
	bucket := aws.ToString(in.Bucket)
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, ok := m.buckets[bucket]
	if !ok {
		return nil, noSuchBucket(bucket)
	}
	delete(objs, aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, nil
}

// Keys returns the keys of bucket's objects, in no particular order.
func (m *Memory) Keys(bucket string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.buckets[bucket]))
	for k := range m.buckets[bucket] {
		keys = append(keys, k)
	}
	return keys
}

func noSuchBucket(bucket string) error {
	return &types.NoSuchBucket{Message: aws.String("no bucket " + bucket)}
}

// errInvalid is S3's answer to a malformed request.
func errInvalid(op, what string) error {
	return &smithy.GenericAPIError{Code: "InvalidRequest", Message: "s3test: " + op + ": " + what}
}

// errUnsupported refuses a request option that Memory does not implement.
func errUnsupported(op, what string) error {
	return &smithy.GenericAPIError{Code: "NotImplemented", Message: "s3test: " + op + ": Memory does not implement " + what}
}
