package cloud_test

import (
	"bytes"
	"context"
	"errors"

	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/cloud"
)

// fakeS3 answers keyfile reads from a function, recording what was asked.
type fakeS3 struct {
	mu     sync.Mutex
	asked  []string // bucket/key
	answer func(bucket, key string) ([]byte, error)
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	b, k := aws.ToString(in.Bucket), aws.ToString(in.Key)
	f.mu.Lock()
	f.asked = append(f.asked, b+"/"+k)
	f.mu.Unlock()
	data, err := f.answer(b, k)
	if err != nil {
		return nil, err
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(data))}, nil
}

// authServer answers GET / with body after failing with the given statuses,
// and fails the test on any other request.
func authServer(t *testing.T, body string, failures ...int) *httptest.Server {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("GET / is signed")
		}
		if i := int(n.Add(1)) - 1; i < len(failures) {
			http.Error(w, "failing", failures[i])
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func fastRetry() cloud.RetryPolicy {
	return cloud.RetryPolicy{BusyDelays: []time.Duration{time.Millisecond}, UnavailableDelay: time.Millisecond, UnavailableRetries: 3}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	s3c := &fakeS3{answer: func(string, string) ([]byte, error) { return nil, errors.New("unused") }}
	ok := cloud.Config{Endpoint: "https://example.invalid", Region: "eu-west-1", System: "sys", DBName: "db", S3: s3c}
	for name, adjust := range map[string]func(*cloud.Config){
		"no endpoint":    func(c *cloud.Config) { c.Endpoint = "" },
		"not a URL":      func(c *cloud.Config) { c.Endpoint = "example.com:443" },
		"other scheme":   func(c *cloud.Config) { c.Endpoint = "ftp://example.com" },
		"no host":        func(c *cloud.Config) { c.Endpoint = "https://" },
		"no system":      func(c *cloud.Config) { c.System = "" },
		"no region":      func(c *cloud.Config) { c.Region = "" },
		"no db":          func(c *cloud.Config) { c.DBName = "" },
		"no credentials": func(c *cloud.Config) { c.S3 = nil },
	} {
		cfg := ok
		adjust(&cfg)
		_, err := cloud.Connect(ctx, cfg)
		assert.Error(t, err, name)
	}
	// The region can come from the AWS configuration, and so can the S3
	// client: only the endpoint is then missing here.
	cfg := ok
	cfg.Region, cfg.S3 = "", nil
	cfg.AWS = aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	cfg.Endpoint = authServer(t, "<html></html>").URL
	_, err := cloud.Connect(ctx, cfg)
	assert.ErrorIs(t, err, cloud.ErrMalformed, "got as far as GET /")
}

func TestAuthPathAnswers(t *testing.T) {
	ctx := context.Background()
	var asked string
	s3c := &fakeS3{answer: func(b, k string) ([]byte, error) {
		asked = b + "/" + k
		return nil, &types.NoSuchKey{}
	}}
	connect := func(srv *httptest.Server) error {
		_, err := cloud.Connect(ctx, cloud.Config{Endpoint: srv.URL + "/some/stage", Region: "r", System: "sys", DBName: "db",
			S3: s3c, Retry: fastRetry()})
		return err
	}
	for body, want := range map[string]string{
		`{:s3-auth-path "bucket"}`:                "bucket/sys/datomic/access/dbs/db/db/read/.keys",
		"{:s3-auth-path \"s3://bucket/\"}\n":      "bucket/sys/datomic/access/dbs/db/db/read/.keys",
		`{:other 1, :s3-auth-path "bucket/p/q"}`:  "bucket/p/q/sys/datomic/access/dbs/db/db/read/.keys",
		` { :s3-auth-path   "bucket/p/" } ; note`: "bucket/p/sys/datomic/access/dbs/db/db/read/.keys",
	} {
		asked = ""
		err := connect(authServer(t, body))
		assert.ErrorIs(t, err, datomic.ErrNotFound, body)
		assert.Equal(t, want, asked, body)
	}
	for _, body := range []string{"<html>gateway</html>", `{:s3-auth-path ""}`, `{:s3-auth-path 5}`, `["bucket"]`} {
		err := connect(authServer(t, body))
		assert.ErrorIs(t, err, cloud.ErrMalformed, body)
		assert.Contains(t, err.Error(), "Endpoint", body)
	}
	// Unavailable and busy are retried, a client error is not.
	assert.ErrorIs(t, connect(authServer(t, `{:s3-auth-path "b"}`, 503, 429, 502)), datomic.ErrNotFound)
	assert.ErrorIs(t, connect(authServer(t, `{:s3-auth-path "b"}`, 404)), datomic.ErrIncorrect)
	assert.ErrorIs(t, connect(authServer(t, `{:s3-auth-path "b"}`, 503, 503, 503, 503)), datomic.ErrUnavailable)
}

func TestKeyfileErrors(t *testing.T) {
	ctx := context.Background()
	srv := authServer(t, `{:s3-auth-path "bucket/prefix"}`)
	connect := func(answer func(b, k string) ([]byte, error)) error {
		_, err := cloud.Connect(ctx, cloud.Config{Endpoint: srv.URL, Region: "r", System: "sys", DBName: "orders",
			S3: &fakeS3{answer: answer}, Retry: fastRetry()})
		return err
	}
	fixed := func(data []byte, err error) func(string, string) ([]byte, error) {
		return func(string, string) ([]byte, error) { return data, err }
	}
	err := connect(fixed(nil, &types.NoSuchKey{}))
	assert.ErrorIs(t, err, datomic.ErrNotFound)
	assert.Contains(t, err.Error(), `database "orders" not found in system "sys" (no keyfile s3://bucket/prefix/sys/datomic/access/dbs/db/orders/read/.keys)`)

	err = connect(fixed(nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied"}))
	assert.ErrorIs(t, err, datomic.ErrForbidden)
	assert.Contains(t, err.Error(), "s3:GetObject")

	err = connect(fixed(nil, &smithy.GenericAPIError{Code: "NoSuchBucket"}))
	assert.ErrorIs(t, err, datomic.ErrNotFound)

	err = connect(fixed(nil, errors.New("connection reset")))
	assert.ErrorIs(t, err, datomic.ErrUnavailable)

	for _, body := range []string{"garbage", `["^ ","~:other",1]`, `["^ ","~:current",["^ ","~:key-name","k"]]`,
		`["^ ","~:current",["^ ","~:key-name","","~:secret","s"]]`, `["^ ","~:current",5]`} {
		err = connect(fixed([]byte(body), nil))
		assert.ErrorIs(t, err, cloud.ErrMalformed, body)
		assert.ErrorIs(t, err, datomic.ErrFault, body)
		assert.Contains(t, err.Error(), "keyfile s3://bucket/prefix/", body)
	}
}

// TestKeyKinds: which keyfile signs which operation.
func TestKeyKinds(t *testing.T) {
	for op, want := range map[string]string{
		"datomic.catalog/create-db": cloud.KindAdmin, "datomic.catalog/delete-db": cloud.KindAdmin,
		"datomic.catalog/list-dbs": cloud.KindCatalogRead, "datomic.catalog/resolve-db": cloud.KindDBRead,
		"status": cloud.KindDBRead, "tx-range": cloud.KindDBRead, "next": cloud.KindDBRead, "datoms": cloud.KindDBRead,
		"index-range": cloud.KindDBRead, "transact": cloud.KindDBWrite,
	} {
		assert.Equal(t, want, cloud.KeyKind(op), op)
	}
	for kind, want := range map[string]string{
		cloud.KindAdmin: "s/datomic/access/admin/", cloud.KindCatalogRead: "s/datomic/access/dbs/catalog/read/",
		cloud.KindDBRead: "s/datomic/access/dbs/db/d/read/", cloud.KindDBWrite: "s/datomic/access/dbs/db/d/",
	} {
		assert.Equal(t, want, cloud.AccessDir("s", kind, "d"), kind)
	}
}
