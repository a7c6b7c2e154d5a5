package s3test_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic/cloud"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
	"github.com/dcbackup/dcbackup/internal/s3test"
)

// Memory is both the fake Cloud system's S3 and the cloud client's.
var (
	_ peertest.S3 = (*s3test.Memory)(nil)
	_ cloud.S3API = (*s3test.Memory)(nil)
)

func get(t *testing.T, m *s3test.Memory, bucket, key string) ([]byte, error) {
	t.Helper()
	out, err := m.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), aws.ToInt64(out.ContentLength))
	return data, nil
}

func put(m *s3test.Memory, bucket, key string, data []byte, ifNoneMatch *string) error {
	_, err := m.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data), IfNoneMatch: ifNoneMatch})
	return err
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestMemoryObjects(t *testing.T) {
	ctx := context.Background()
	m := s3test.NewMemory("b")

	_, err := get(t, m, "b", "k")
	var nsk *types.NoSuchKey
	require.ErrorAs(t, err, &nsk)
	assert.Equal(t, "NoSuchKey", apiCode(err), "as the cloud client reads it")

	data := []byte("one")
	require.NoError(t, put(m, "b", "k", data, nil))
	data[0] = 'X' // the stored object is a copy
	got, err := get(t, m, "b", "k")
	require.NoError(t, err)
	assert.Equal(t, "one", string(got))
	got[0] = 'Y' // and so is what a read returns
	got, err = get(t, m, "b", "k")
	require.NoError(t, err)
	assert.Equal(t, "one", string(got))

	require.NoError(t, put(m, "b", "k", []byte("two"), nil), "an unconditional write replaces")
	got, err = get(t, m, "b", "k")
	require.NoError(t, err)
	assert.Equal(t, "two", string(got))

	err = put(m, "b", "k", []byte("three"), aws.String("*"))
	assert.Equal(t, "PreconditionFailed", apiCode(err))
	require.NoError(t, put(m, "b", "new", []byte("three"), aws.String("*")))
	assert.ElementsMatch(t, []string{"k", "new"}, m.Keys("b"))

	_, err = m.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	require.NoError(t, err)
	_, err = get(t, m, "b", "k")
	require.ErrorAs(t, err, &nsk)
	_, err = m.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	require.NoError(t, err, "deleting what is not there succeeds")
	assert.Equal(t, []string{"new"}, m.Keys("b"))
}

func TestMemoryBuckets(t *testing.T) {
	ctx := context.Background()
	m := s3test.NewMemory()
	var nsb *types.NoSuchBucket
	_, err := get(t, m, "b", "k")
	require.ErrorAs(t, err, &nsb)
	require.ErrorAs(t, put(m, "b", "k", nil, nil), &nsb)
	_, err = m.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	require.ErrorAs(t, err, &nsb)

	_, err = m.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("b")})
	require.NoError(t, err)
	_, err = m.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("b")})
	var owned *types.BucketAlreadyOwnedByYou
	require.ErrorAs(t, err, &owned)
	require.NoError(t, put(m, "b", "k", nil, nil), "an empty body")
	got, err := get(t, m, "b", "k")
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Empty(t, m.Keys("other"))
}

// What Memory does not implement is refused, never ignored; a canceled
// context is an error.
func TestMemoryRefuses(t *testing.T) {
	ctx := context.Background()
	m := s3test.NewMemory("b")
	require.NoError(t, put(m, "b", "k", []byte("data"), nil))
	_, err := m.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), Range: aws.String("bytes=0-1")})
	assert.Equal(t, "NotImplemented", apiCode(err))
	_, err = m.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), IfMatch: aws.String(`"x"`)})
	assert.Equal(t, "NotImplemented", apiCode(err))
	_, err = m.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), VersionId: aws.String("1")})
	assert.Equal(t, "NotImplemented", apiCode(err))
	assert.Equal(t, "InvalidRequest", apiCode(put(m, "b", "", nil, nil)))
	got, err := get(t, m, "b", "k")
	require.NoError(t, err)
	assert.Equal(t, "data", string(got), "nothing refused changed the object")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.GetObject(canceled, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	require.ErrorIs(t, err, context.Canceled)
	_, err = m.PutObject(canceled, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	require.ErrorIs(t, err, context.Canceled)
}

func TestMemoryConcurrent(t *testing.T) {
	m := s3test.NewMemory("b")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				key := string(rune('a' + i))
				assert.NoError(t, put(m, "b", key, []byte{byte(i)}, nil))
				got, err := get(t, m, "b", key)
				assert.NoError(t, err)
				assert.Equal(t, []byte{byte(i)}, got)
			}
		})
	}
	wg.Wait()
	assert.Len(t, m.Keys("b"), 8)
}

// A fake Cloud system keeps its keyfiles in Memory, and the cloud client
// reads them there: connect, rotate a key, read again.
func TestMemoryServesACloudSystem(t *testing.T) {
	ctx := context.Background()
	m := s3test.NewMemory("keys")
	srv := peertest.NewCloudServer(t, nil, peertest.Options{Cloud: peertest.CloudOptions{S3: m, Bucket: "keys"}})
	c, err := cloud.NewClient(ctx, srv.CloudConfig())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.CreateDatabase(ctx, "db"))
	conn, err := c.Connect(ctx, "db")
	require.NoError(t, err)
	require.NoError(t, srv.RotateKey(ctx, cloud.KindDBRead, "db"))
	_, err = conn.DB(ctx)
	require.NoError(t, err, "the rotated key is read from Memory")
	_, key := srv.Keyfile(cloud.KindDBRead, "db")
	assert.Contains(t, m.Keys("keys"), key)

	_, err = c.Connect(ctx, "nope")
	assert.ErrorContains(t, err, `database "nope" not found`, "a missing keyfile is NoSuchKey")
}
