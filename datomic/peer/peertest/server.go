// Package peertest is a fake Datomic peer-server for tests: it serves the
// Datomic client protocol (transit+json over HTTPS, requests signed with
// Cognitect's SigV4 variant and checked by the same rules as the real
// server) from any datomic.Conn, such as the in-memory engine of
// datomic/mem.
//
// It implements the operations package peer sends: resolve-db, list-dbs,
// status, tx-range, datoms, index-range, transact and next. Faults can be
// injected per operation to test a client's error handling and retries.
package peertest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/sign"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
	"github.com/dcbackup/dcbackup/datomic/peer"
)

// Default credentials and names of a Server.
const (
	DefaultAccessKey = "test-key"
	DefaultSecret    = "test-secret"
	DefaultDBName    = "test"
)

// maxRequestBytes bounds a request body.
const maxRequestBytes = 64 << 20

// Options adjust a Server. The zero value uses the defaults above.
type Options struct {
	AccessKey, Secret string
	DBName            string
	// DatabaseID is returned by resolve-db (default "datomic:mem://<DBName>").
	DatabaseID string
	// Logger receives a line per request; nil discards.
	Logger *slog.Logger
}

// Server is a fake peer-server over loopback HTTPS.
type Server struct {
	srv  *httptest.Server
	conn datomic.Conn
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	counts   map[string]int
	faults   map[string][]Fault
	cursors  map[string]*cursor
	tokenSeq int
}

// NewServer starts a server for conn and stops it when the test ends.
func NewServer(t testing.TB, conn datomic.Conn) *Server {
	t.Helper()
	return NewServerWithOptions(t, conn, Options{})
}

// NewServerWithOptions starts a server with opts and stops it when the test ends.
func NewServerWithOptions(t testing.TB, conn datomic.Conn, opts Options) *Server {
	t.Helper()
	if opts.AccessKey == "" {
		opts.AccessKey = DefaultAccessKey
	}
	if opts.Secret == "" {
		opts.Secret = DefaultSecret
	}
	if opts.DBName == "" {
		opts.DBName = DefaultDBName
	}
	if opts.DatabaseID == "" {
		opts.DatabaseID = "datomic:mem://" + opts.DBName
	}
	s := &Server{
		conn:    conn,
		opts:    opts,
		log:     opts.Logger,
		counts:  map[string]int{},
		faults:  map[string][]Fault{},
		cursors: map[string]*cursor{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and releases its cursors.
func (s *Server) Close() {
	s.srv.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.cursors {
		c.close()
		delete(s.cursors, k)
	}
}

// URL is the server's https URL.
func (s *Server) URL() string { return s.srv.URL }

// Certificate is the server's TLS certificate.
func (s *Server) Certificate() *x509.Certificate { return s.srv.Certificate() }

// Config returns a peer.Config that reaches this server: its endpoint,
// credentials and database name, its certificate pinned by fingerprint, and
// retry delays short enough for tests.
func (s *Server) Config() peer.Config {
	return peer.Config{
		Endpoint:  s.srv.URL,
		AccessKey: s.opts.AccessKey,
		Secret:    s.opts.Secret,
		DBName:    s.opts.DBName,
		TLS:       peer.TLSConfig{Fingerprints: []string{peer.Fingerprint(s.Certificate())}},
		Timeout:   30 * time.Second,
		Retry: peer.RetryPolicy{
			BusyDelays:       []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond},
			UnavailableDelay: 5 * time.Millisecond,
		},
	}
}

// Requests returns how many requests for op (e.g. "tx-range", "next",
// "transact", "datomic.catalog/resolve-db") the server has received,
// counting rejected ones.
func (s *Server) Requests(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[op]
}

var (
	kwOp         = datomic.Keyword("op")
	kwDBName     = datomic.Keyword("db-name")
	kwDatabaseID = datomic.Keyword("database-id")
	kwT          = datomic.Keyword("t")
	kwNextT      = datomic.Keyword("next-t")
	kwAsOf       = datomic.Keyword("as-of")
	kwResult     = datomic.Keyword("result")
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get(peer.HeaderOp), "datomic.client.protocol/")
	s.mu.Lock()
	s.counts[op]++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil || len(body) > maxRequestBytes {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	v := sign.Verifier{
		Secret: func(k string) (string, bool) {
			return s.opts.Secret, k == s.opts.AccessKey
		},
		Scope:   sign.PeerServer,
		MaxSkew: 15 * time.Minute,
	}
	if err := v.Verify(r, body); err != nil {
		s.log.Info("peertest: rejected request", "op", op, "err", err)
		writeTransit(w, http.StatusForbidden, transit.Map{{Key: datomic.Keyword("cause"), Value: "Forbidden"}})
		return
	}
	if f, ok := s.takeFault(op); ok {
		s.applyFault(w, r, f, func() (int, transit.Map) { return s.dispatch(r.Context(), op, body) })
		return
	}
	status, resp := s.dispatch(r.Context(), op, body)
	writeTransit(w, status, resp)
}

func writeTransit(w http.ResponseWriter, status int, m transit.Map) {
	b, err := transit.Marshal(m)
	if err != nil {
		b, _ = transit.Marshal(anomaly(datomic.CatFault, "", "cannot encode response: "+err.Error()))
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", peer.ContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// anomaly builds an anomaly map.
func anomaly(cat datomic.Category, code datomic.Keyword, msg string) transit.Map {
	m := transit.Map{
		{Key: datomic.Keyword("cognitect.anomalies/category"), Value: datomic.Keyword("cognitect.anomalies/" + string(cat))},
		{Key: datomic.Keyword("cognitect.anomalies/message"), Value: msg},
	}
	if code != "" {
		m = append(m, transit.KV{Key: datomic.Keyword("db/error"), Value: code})
	}
	return m
}

// statusOf is the HTTP status the server uses for an anomaly category.
func statusOf(cat datomic.Category) int {
	switch cat {
	case datomic.CatForbidden:
		return http.StatusForbidden
	case datomic.CatNotFound:
		return http.StatusNotFound
	case datomic.CatBusy:
		return http.StatusTooManyRequests
	case datomic.CatUnavailable:
		return http.StatusServiceUnavailable
	case datomic.CatInterrupted:
		return http.StatusGatewayTimeout
	case datomic.CatFault:
		return http.StatusInternalServerError
	case datomic.CatConflict:
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// errorResponse converts an engine error into an anomaly.
func errorResponse(err error) (int, transit.Map) {
	var de *datomic.Error
	if errors.As(err, &de) {
		return statusOf(de.Category), anomaly(de.Category, de.Code, de.Message)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return statusOf(datomic.CatInterrupted), anomaly(datomic.CatInterrupted, "", err.Error())
	}
	return statusOf(datomic.CatFault), anomaly(datomic.CatFault, "", err.Error())
}

func incorrect(format string, args ...any) (int, transit.Map) {
	return http.StatusBadRequest, anomaly(datomic.CatIncorrect, "", fmt.Sprintf(format, args...))
}

// dispatch runs one operation.
func (s *Server) dispatch(ctx context.Context, op string, body []byte) (int, transit.Map) {
	v, err := transit.Unmarshal(body)
	if err != nil {
		return incorrect("unreadable request: %v", err)
	}
	req, ok := v.(transit.Map)
	if !ok {
		return incorrect("request is not a map")
	}
	if k, _ := req.Get(kwOp); k != datomic.Keyword(op) {
		return incorrect("x-nano-op %q does not match :op %v", op, k)
	}
	if !strings.HasPrefix(op, "datomic.catalog/") && op != "next" {
		if id, _ := req.Get(kwDatabaseID); id != s.opts.DatabaseID {
			return http.StatusNotFound, anomaly(datomic.CatNotFound, "", fmt.Sprintf("no database %v", id))
		}
	}
	switch op {
	case "datomic.catalog/resolve-db":
		if name, _ := req.Get(kwDBName); name != s.opts.DBName {
			return http.StatusNotFound, anomaly(datomic.CatNotFound, "", fmt.Sprintf("no database named %v", name))
		}
		return http.StatusOK, transit.Map{{Key: kwDatabaseID, Value: s.opts.DatabaseID}}
	case "datomic.catalog/list-dbs":
		return http.StatusOK, transit.Map{{Key: kwResult, Value: []any{s.opts.DBName}}}
	case "status":
		db, err := s.conn.DB(ctx)
		if err != nil {
			return errorResponse(err)
		}
		return http.StatusOK, s.dbDesc(db.BasisT())
	case "tx-range", "datoms", "index-range":
		return s.chunked(ctx, op, req)
	case "next":
		return s.next(ctx, req)
	case "transact":
		return s.transact(ctx, req)
	}
	return http.StatusBadRequest, transit.Map{{Key: datomic.Keyword("cause"), Value: "Invalid Op"}}
}

func (s *Server) dbDesc(t int64) transit.Map {
	return transit.Map{
		{Key: kwDatabaseID, Value: s.opts.DatabaseID},
		{Key: kwDBName, Value: s.opts.DBName},
		{Key: kwT, Value: t},
		{Key: kwNextT, Value: t + 1},
	}
}

// dbFor returns the database value a request's context names.
func (s *Server) dbFor(ctx context.Context, req transit.Map) (datomic.DB, error) {
	db, err := s.conn.DB(ctx)
	if err != nil {
		return nil, err
	}
	if a, ok := req.Get(kwAsOf); ok {
		if t, ok := a.(int64); ok {
			return db.AsOf(t), nil
		}
	}
	if t, ok := req.Get(kwT); ok {
		if t, ok := t.(int64); ok && t > 0 && t < db.BasisT() {
			return db.AsOf(t), nil
		}
	}
	return db, nil
}
