package peertest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/sign"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer"
)

// raw sends one request body for op, signed when cred is not nil.
func raw(t *testing.T, s *Server, op string, req transit.Map, cred *sign.Credentials) (int, any) {
	t.Helper()
	body, err := transit.Marshal(req)
	require.NoError(t, err)
	hreq, err := http.NewRequest(http.MethodPost, s.URL(), bytes.NewReader(body))
	require.NoError(t, err)
	hreq.Host = "127.0.0.1"
	hreq.Header.Set("Content-Type", peer.ContentType)
	hreq.Header.Set(peer.HeaderOp, op)
	if cred != nil {
		sign.Sign(hreq, body, *cred, sign.PeerServer, time.Now())
	}
	resp, err := s.srv.Client().Do(hreq)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	v, err := transit.Unmarshal(data)
	require.NoError(t, err, "body %q", data)
	return resp.StatusCode, v
}

func category(v any) any {
	m, _ := v.(transit.Map)
	c, _ := m.Get(datomic.Keyword("cognitect.anomalies/category"))
	return c
}

func TestProtocolChecks(t *testing.T) {
	m := mem.New(mem.Options{})
	s := NewServer(t, m)
	memID, err := m.DatabaseID(context.Background())
	require.NoError(t, err)
	cred := &sign.Credentials{AccessKey: DefaultAccessKey, Secret: DefaultSecret}
	resolve := transit.Map{{Key: kwDBName, Value: DefaultDBName}, {Key: kwOp, Value: datomic.Keyword("datomic.catalog/resolve-db")}}

	status, v := raw(t, s, "datomic.catalog/resolve-db", resolve, nil)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, transit.Map{{Key: datomic.Keyword("cause"), Value: "Forbidden"}}, v)

	status, v = raw(t, s, "datomic.catalog/resolve-db", resolve, cred)
	require.Equal(t, http.StatusOK, status)
	id, _ := v.(transit.Map).Get(kwDatabaseID)
	assert.Equal(t, memID, id, "the served database's own id")
	assert.Equal(t, memID, s.DatabaseID(""))

	status, v = raw(t, s, "datomic.client.protocol/status", resolve, cred)
	assert.Equal(t, http.StatusBadRequest, status, "x-nano-op and :op disagree")
	assert.Equal(t, datomic.Keyword("cognitect.anomalies/incorrect"), category(v))

	status, v = raw(t, s, "datomic.client.protocol/frobnicate",
		transit.Map{{Key: kwOp, Value: datomic.Keyword("frobnicate")}, {Key: kwDatabaseID, Value: memID}}, cred)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, transit.Map{{Key: datomic.Keyword("cause"), Value: "Invalid Op"}}, v)

	status, v = raw(t, s, "datomic.client.protocol/status",
		transit.Map{{Key: kwOp, Value: datomic.Keyword("status")}, {Key: kwDatabaseID, Value: "datomic:mem://other"}}, cred)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, datomic.Keyword("cognitect.anomalies/not-found"), category(v))
}

// TestChunksAndLimit pages a datoms read given with :components, as the
// JavaScript client sends it, with a :limit.
func TestChunksAndLimit(t *testing.T) {
	s := NewServer(t, mem.New(mem.Options{}))
	cred := &sign.Credentials{AccessKey: DefaultAccessKey, Secret: DefaultSecret}
	reqCtx := transit.Map{{Key: kwDatabaseID, Value: s.DatabaseID("")}, {Key: kwDBName, Value: DefaultDBName}}
	req := append(transit.Map{
		{Key: kwOp, Value: datomic.Keyword("datoms")},
		{Key: kwIndex, Value: datomic.Keyword("aevt")},
		{Key: kwComponents, Value: []any{datomic.Keyword("db/ident")}},
		{Key: kwLimit, Value: int64(25)},
		{Key: kwChunk, Value: int64(10)},
	}, reqCtx...)
	status, v := raw(t, s, "datomic.client.protocol/datoms", req, cred)
	require.Equal(t, http.StatusOK, status, "%v", v)
	total := 0
	for range 10 {
		m := v.(transit.Map)
		data, _ := m.Get(kwData)
		total += len(data.([]any))
		off, ok := m.Get(kwNextOffset)
		if !ok {
			break
		}
		tok, _ := m.Get(kwNextToken)
		next := append(transit.Map{
			{Key: kwOp, Value: datomic.Keyword("next")},
			{Key: kwNextToken, Value: tok},
			{Key: kwOffset, Value: off},
			{Key: kwChunk, Value: int64(10)},
		}, reqCtx...)
		status, v = raw(t, s, "datomic.client.protocol/next", next, cred)
		require.Equal(t, http.StatusOK, status, "%v", v)
	}
	assert.Equal(t, 25, total)
	assert.Equal(t, 2, s.Requests("next"))

	// A stale token is refused.
	stale := append(transit.Map{{Key: kwOp, Value: datomic.Keyword("next")}, {Key: kwNextToken, Value: "cursor-1"},
		{Key: kwOffset, Value: int64(10)}}, reqCtx...)
	status, v = raw(t, s, "datomic.client.protocol/next", stale, cred)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, datomic.Keyword("cognitect.anomalies/incorrect"), category(v))
}

// TestConfigConnects checks that Config is ready to use.
func TestConfigConnects(t *testing.T) {
	s := NewServer(t, mem.New(mem.Options{}))
	conn, err := peer.Connect(context.Background(), s.Config())
	require.NoError(t, err)
	defer conn.Close()
	db, err := conn.DB(context.Background())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, db.BasisT(), int64(0))
}

// TestAbandonedCursorsAreBounded opens more reads than the server keeps
// and never finishes them.
func TestAbandonedCursorsAreBounded(t *testing.T) {
	s := NewServer(t, mem.New(mem.Options{}))
	cred := &sign.Credentials{AccessKey: DefaultAccessKey, Secret: DefaultSecret}
	req := transit.Map{
		{Key: kwOp, Value: datomic.Keyword("datoms")},
		{Key: kwDatabaseID, Value: s.DatabaseID("")},
		{Key: kwIndex, Value: datomic.Keyword("aevt")},
		{Key: datomic.Keyword("a"), Value: datomic.Keyword("db/ident")},
		{Key: kwChunk, Value: int64(1)},
	}
	var first any
	for i := range maxCursors + 6 {
		status, v := raw(t, s, "datomic.client.protocol/datoms", req, cred)
		require.Equal(t, http.StatusOK, status)
		if i == 0 {
			first, _ = v.(transit.Map).Get(kwNextToken)
		}
	}
	s.mu.Lock()
	open := len(s.cursors)
	s.mu.Unlock()
	assert.Equal(t, maxCursors, open)
	next := transit.Map{{Key: kwOp, Value: datomic.Keyword("next")}, {Key: kwNextToken, Value: first}, {Key: kwOffset, Value: int64(1)}}
	status, _ := raw(t, s, "datomic.client.protocol/next", next, cred)
	assert.Equal(t, http.StatusBadRequest, status, "the oldest cursor was closed")
}
