// Package s3test connects tests to a real S3-compatible server, normally
// the versitygw instance that .ci/s3-server.sh starts on loopback, and has
// an in-memory S3 ([Memory]) for tests that need only a few objects read
// and written, such as the keyfiles of a fake Datomic Cloud system.
//
// The server is described by the environment:
//
//	DCBACKUP_S3_ENDPOINT    e.g. http://127.0.0.1:7070 (path-style addressing)
//	DCBACKUP_S3_ACCESS_KEY  access key id
//	DCBACKUP_S3_SECRET_KEY  secret access key
//	DCBACKUP_S3_REGION      optional, default us-east-1
//
// Without DCBACKUP_S3_ENDPOINT the tests that need the server skip, saying
// how to start it; with DCBACKUP_REQUIRE_S3=1 (set by CI) they fail instead.
//
// These variables describe the test server only. Programs (the examples,
// cmd/dcbackup) are configured the way users configure them, through the
// AWS SDK's standard environment: [Server.AWSEnv] and [SetAWSEnv] give it.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dcbackup/dcbackup"
)

// Environment variables read by this package.
const (
	EnvEndpoint  = "DCBACKUP_S3_ENDPOINT"
	EnvAccessKey = "DCBACKUP_S3_ACCESS_KEY"
	EnvSecretKey = "DCBACKUP_S3_SECRET_KEY"
	EnvRegion    = "DCBACKUP_S3_REGION"
	EnvRequire   = "DCBACKUP_REQUIRE_S3"
)

// HowToStart is the hint given when no server is configured.
const HowToStart = `no S3 test server: start one with eval "$(.ci/s3-server.sh)" from the repository root ` +
	`(installs versitygw with go install on first use), or set ` + EnvEndpoint + `, ` + EnvAccessKey + ` and ` + EnvSecretKey

// Server describes the S3-compatible server under test.
type Server struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
}

// Require returns the configured server. Without one it skips t, or fails
// it when DCBACKUP_REQUIRE_S3=1.
func Require(t testing.TB) Server {
	t.Helper()
	srv := Server{
		Endpoint:  os.Getenv(EnvEndpoint),
		AccessKey: os.Getenv(EnvAccessKey),
		SecretKey: os.Getenv(EnvSecretKey),
		Region:    os.Getenv(EnvRegion),
	}
	if srv.Region == "" {
		srv.Region = "us-east-1"
	}
	if srv.Endpoint == "" || srv.AccessKey == "" || srv.SecretKey == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %s", EnvRequire, HowToStart)
		}
		t.Skip(HowToStart)
	}
	return srv
}

// AWSEnv returns the AWS SDK's standard environment variables that point
// a program configured from the default chain (config.LoadDefaultConfig)
// at the server: endpoint, region and static credentials. The shared
// config and credentials files are set to os.DevNull and the profile,
// session token and global endpoint are emptied, so that the developer's
// own AWS configuration plays no part.
func (s Server) AWSEnv() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_S3":         s.Endpoint,
		"AWS_REGION":                  s.Region,
		"AWS_ACCESS_KEY_ID":           s.AccessKey,
		"AWS_SECRET_ACCESS_KEY":       s.SecretKey,
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	}
}

// SetAWSEnv configures the AWS SDK's environment of this process for the
// server (see [Server.AWSEnv]) until t ends: every other AWS_* variable is
// unset. It skips or fails t like [Require] without a server.
func SetAWSEnv(t *testing.T) Server {
	t.Helper()
	srv := Require(t)
	ClearAWSEnv(t)
	for k, v := range srv.AWSEnv() {
		t.Setenv(k, v)
	}
	return srv
}

// ClearAWSEnv unsets every AWS_* environment variable until t ends, and
// points the shared config and credentials files at os.DevNull, so that
// a test sees none of the developer's AWS configuration.
func ClearAWSEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restored when t ends
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

// NewClient returns a client for the configured server (see Require),
// with path-style addressing. optFns adjust its options, for example to
// wrap the HTTP client.
func NewClient(t testing.TB, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	srv := Require(t)
	opts := s3.Options{
		Region:       srv.Region,
		BaseEndpoint: aws.String(srv.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	}
	return s3.New(opts, optFns...)
}

// NewBucket creates a bucket with a name unique to t and this run, and
// removes it with everything in it (objects and unfinished multipart
// uploads) when t ends.
func NewBucket(t testing.TB, client *s3.Client) string {
	t.Helper()
	name := bucketName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := RemoveBucket(ctx, client, name); err != nil {
			t.Errorf("remove test bucket: %v", err)
		}
	})
	return name
}

// NewStore returns an S3 store in a fresh bucket (see NewBucket) under the
// prefix "backups", with a client made by NewClient(t, optFns...).
func NewStore(t testing.TB, opts dcbackup.S3Options, optFns ...func(*s3.Options)) *dcbackup.S3Store {
	t.Helper()
	client := NewClient(t, optFns...)
	store, err := dcbackup.NewS3Store(client, NewBucket(t, client), "backups", opts)
	if err != nil {
		t.Fatalf("new S3 store: %v", err)
	}
	return store
}

// RemoveBucket aborts the bucket's unfinished multipart uploads, deletes
// its objects and then the bucket.
func RemoveBucket(ctx context.Context, client *s3.Client, bucket string) error {
	uploads := s3.NewListMultipartUploadsPaginator(client, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for uploads.HasMorePages() {
		page, err := uploads.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, u := range page.Uploads {
			if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId,
			}); err != nil {
				return err
			}
		}
	}
	objects := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for objects.HasMorePages() {
		page, err := objects.NextPage(ctx)
		if err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return &deleteError{key: aws.ToString(e.Key), code: aws.ToString(e.Code), msg: aws.ToString(e.Message)}
		}
	}
	_, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	return err
}

type deleteError struct{ key, code, msg string }

func (e *deleteError) Error() string { return "delete " + e.key + ": " + e.code + ": " + e.msg }

// bucketName makes a valid, unique bucket name (3-63 characters of
// lowercase letters, digits and '-') from a test name.
func bucketName(testName string) string {
	var b strings.Builder
	b.WriteString("dcb-")
	dash := true
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 40 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	if !dash {
		b.WriteByte('-')
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	b.WriteString(hex.EncodeToString(rnd[:]))
	return b.String()
}
