package peertest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/cloud"
	"github.com/dcbackup/dcbackup/datomic/internal/sign"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/s3test"
)

func newCloud(t *testing.T) (*Server, *mem.Conn) {
	t.Helper()
	s3c := s3test.NewClient(t)
	bucket := s3test.NewBucket(t, s3c)
	c := mem.New(mem.Options{Cloud: true})
	return NewCloudServer(t, c, Options{Cloud: CloudOptions{S3: s3c, Bucket: bucket, Prefix: "/auth/"}}), c
}

// signedAs sends status for the served database signed with the current
// key of kind, or with key name/secret when given, and strip removes the
// x-cognitect-* copies (as the JavaScript client sends no copies).
func signedAs(t *testing.T, s *Server, op, kind, name, secret string, strip bool) int {
	t.Helper()
	ctx := context.Background()
	req := transit.Map{kv(kwOp, datomic.Keyword(op)), kv(kwDatabaseID, s.DatabaseID("")), kv(kwDBName, DefaultDBName)}
	if op == "transact" {
		req = append(req, kv(kwTxData, []any{}))
	}
	body, err := transit.Marshal(req)
	require.NoError(t, err)
	u, _ := url.Parse(s.URL())
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/api", bytes.NewReader(body))
	require.NoError(t, err)
	hreq.Host = u.Host
	hreq.Header.Set("Content-Type", "application/transit+json")
	hreq.Header.Set("X-Nano-Op", "datomic.client.protocol/"+op)
	if name == "" {
		name, secret, err = s.currentKey(ctx, kind, DefaultDBName)
		require.NoError(t, err)
	}
	id := "s3://" + s.AuthPath() + "/" + cloud.AccessDir(DefaultSystem, kind, DefaultDBName) + name
	sign.Sign(hreq, body, sign.Credentials{AccessKey: id, Secret: secret}, sign.Scope{Region: DefaultRegion, Service: "datomic"}, time.Now())
	if strip {
		hreq.Header.Del(sign.HeaderCognitectAuth)
		hreq.Header.Del(sign.HeaderCognitectHost)
	}
	resp, err := s.srv.Client().Do(hreq)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestCloudAuthentication: a Cloud server takes only the current key of
// the keyfile an operation needs, read from S3 at the time.
func TestCloudAuthentication(t *testing.T) {
	s, _ := newCloud(t)
	ctx := context.Background()
	assert.Equal(t, "/auth", s.AuthPath()[len(s.AuthPath())-5:])

	assert.Equal(t, http.StatusOK, signedAs(t, s, "status", cloud.KindDBRead, "", "", false))
	assert.Equal(t, http.StatusOK, signedAs(t, s, "status", cloud.KindDBRead, "", "", true), "without the x-cognitect-* copies")
	assert.Equal(t, http.StatusOK, signedAs(t, s, "transact", cloud.KindDBWrite, "", "", false))
	assert.Equal(t, http.StatusForbidden, signedAs(t, s, "transact", cloud.KindDBRead, "", "", false), "a read key cannot write")
	assert.Equal(t, http.StatusForbidden, signedAs(t, s, "status", cloud.KindDBWrite, "", "", false), "nor a write key read")
	assert.Equal(t, http.StatusForbidden, signedAs(t, s, "status", cloud.KindAdmin, "", "", false))

	name, secret, err := s.currentKey(ctx, cloud.KindDBRead, DefaultDBName)
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, signedAs(t, s, "status", cloud.KindDBRead, name, "wrong", false))
	require.NoError(t, s.RotateKey(ctx, cloud.KindDBRead, DefaultDBName))
	assert.Equal(t, http.StatusForbidden, signedAs(t, s, "status", cloud.KindDBRead, name, secret, false), "a stale key")
	assert.Equal(t, http.StatusOK, signedAs(t, s, "status", cloud.KindDBRead, "", "", false))

	// The keyfile is what counts: removed, the database's keys are refused.
	bucket, key := s.Keyfile(cloud.KindDBRead, DefaultDBName)
	_, err = s.cloud.opts.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	name, secret = "x", "y"
	assert.Equal(t, http.StatusForbidden, signedAs(t, s, "status", cloud.KindDBRead, name, secret, false))
}

// TestCloudRoutes: GET / is unsigned and names the keys' location;
// operations go to POST /api only.
func TestCloudRoutes(t *testing.T) {
	s, _ := newCloud(t)
	resp, err := s.srv.Client().Get(s.URL() + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, `{:s3-auth-path "`+s.AuthPath()+`"}`, string(body))
	assert.Equal(t, 1, s.Requests("GET /"))

	resp, err = s.srv.Client().Post(s.URL()+"/", "application/transit+json", bytes.NewReader([]byte(`["^ "]`)))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// A peer-server has no GET /.
	p := NewServer(t, mem.New(mem.Options{}))
	resp, err = p.srv.Client().Get(p.URL() + "/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}
