package peertest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/cloud"
	"github.com/dcbackup/dcbackup/datomic/internal/sign"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer"
	"github.com/dcbackup/dcbackup/internal/s3test"
)

// mode is a server in one of its modes and a way to send it signed
// requests.
type mode struct {
	name string
	mem  *mem.Conn
	srv  *Server
	// send sends one request for op, signed as a client of the mode would.
	send func(t *testing.T, op string, req transit.Map) (int, any)
}

// context returns the request context of the served database.
func (m mode) context() transit.Map {
	return transit.Map{{Key: kwDatabaseID, Value: m.srv.DatabaseID("")}, {Key: kwDBName, Value: DefaultDBName}}
}

// bothModes runs f against a peer-server and a Cloud system (the latter
// only with an S3 server: see internal/s3test), each serving a fresh
// in-memory database of the matching kind.
func bothModes(t *testing.T, f func(t *testing.T, m mode)) {
	t.Run("peer-server", func(t *testing.T) {
		c := mem.New(mem.Options{SharedCounter: true})
		s := NewServer(t, c)
		cred := &sign.Credentials{AccessKey: DefaultAccessKey, Secret: DefaultSecret}
		f(t, mode{name: "peer-server", mem: c, srv: s, send: func(t *testing.T, op string, req transit.Map) (int, any) {
			return raw(t, s, "datomic.client.protocol/"+op, req, cred)
		}})
	})
	t.Run("cloud", func(t *testing.T) {
		s3c := s3test.NewClient(t)
		bucket := s3test.NewBucket(t, s3c)
		c := mem.New(mem.Options{Cloud: true})
		s := NewCloudServer(t, c, Options{Cloud: CloudOptions{S3: s3c, Bucket: bucket}})
		f(t, mode{name: "cloud", mem: c, srv: s, send: func(t *testing.T, op string, req transit.Map) (int, any) {
			return rawCloud(t, s, op, DefaultDBName, req)
		}})
	})
}

// rawCloud sends a request to a Cloud server's /api, signed with the
// current key of the keyfile op needs.
func rawCloud(t *testing.T, s *Server, op, db string, req transit.Map) (int, any) {
	t.Helper()
	ctx := context.Background()
	body, err := transit.Marshal(req)
	require.NoError(t, err)
	u, err := url.Parse(s.URL())
	require.NoError(t, err)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/api", bytes.NewReader(body))
	require.NoError(t, err)
	hreq.Host = u.Host
	hreq.Header.Set("Content-Type", peer.ContentType)
	hreq.Header.Set("Accept", peer.ContentType)
	hreq.Header.Set(peer.HeaderOp, "datomic.client.protocol/"+op)
	kind := cloud.KeyKind(op)
	name, secret, err := s.currentKey(ctx, kind, db)
	require.NoError(t, err)
	cred := sign.Credentials{AccessKey: "s3://" + s.AuthPath() + "/" + cloud.AccessDir(s.cloud.opts.System, kind, db) + name, Secret: secret}
	sign.Sign(hreq, body, cred, sign.Scope{Region: s.cloud.opts.Region, Service: cloud.Service}, time.Now())
	resp, err := s.srv.Client().Do(hreq)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	v, err := transit.Unmarshal(data)
	require.NoError(t, err, "body %q", data)
	return resp.StatusCode, v
}

// data sends a chunked read and returns the :data of its answer, which
// must be a single chunk.
func (m mode) data(t *testing.T, op string, req transit.Map) []any {
	t.Helper()
	status, v := m.send(t, op, req)
	require.Equal(t, http.StatusOK, status, "%v", v)
	resp := v.(transit.Map)
	_, more := resp.Get(kwNextOffset)
	require.False(t, more, "one chunk")
	d, _ := resp.Get(kwData)
	return d.([]any)
}

func kv(k datomic.Keyword, v any) transit.KV { return transit.KV{Key: k, Value: v} }
