// Package peertest is a fake Datomic server for tests: it serves the
// Datomic client protocol (transit+json, requests signed with Cognitect's
// SigV4 variant and checked by the same rules as the real server) from any
// datomic.Conn, such as the in-memory engine of datomic/mem.
//
// [NewServer] fakes a Datomic Pro peer-server (HTTPS, one access key,
// one database). [NewCloudServer] fakes a Datomic Cloud system: GET / names
// the S3 location of its access keys, operations go to POST /api, and
// each request must be signed with the current key of the keyfile its
// operation needs, which the server reads from S3; keys can be rotated and
// databases created and deleted.
//
// It implements the operations packages peer and cloud send: resolve-db,
// list-dbs, create-db, delete-db (Cloud), status, tx-range, datoms,
// index-range, transact and next. Faults can be injected per operation to
// test a client's error handling and retries.
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
	// AccessKey and Secret are the peer-server's key (not used by a Cloud
	// server, whose keys are in S3).
	AccessKey, Secret string
	// DBName is the name the served connection has.
	DBName string
	// DatabaseID is returned by resolve-db. By default it is the served
	// connection's own id (datomic.Identified, a UUID for datomic/mem), or
	// "datomic:mem://<DBName>" for a connection that tells none.
	DatabaseID string
	// Logger receives a line per rejected request; nil discards.
	Logger *slog.Logger
	// Cloud configures a Cloud server (NewCloudServer).
	Cloud CloudOptions
}

// database is one database the server serves.
type database struct {
	name string
	id   string
	conn datomic.Conn
}

// Server is a fake peer-server or Datomic Cloud system over loopback HTTPS.
type Server struct {
	srv *httptest.Server
	// closing ends the requests that hang (Fault.Hang) when the server
	// closes.
	closing   chan struct{}
	closeOnce sync.Once
	opts      Options
	log       *slog.Logger
	cloud     *cloudState // nil for a peer-server

	mu       sync.Mutex
	dbs      map[string]*database // by name
	counts   map[string]int
	headers  map[string]http.Header // of the latest request, by op
	faults   map[string][]Fault
	cursors  map[string]*cursor
	tokenSeq int
}

// NewServer starts a fake peer-server for conn and stops it when the test ends.
func NewServer(t testing.TB, conn datomic.Conn) *Server {
	t.Helper()
	return NewServerWithOptions(t, conn, Options{})
}

// NewServerWithOptions starts a fake peer-server with opts and stops it
// when the test ends.
func NewServerWithOptions(t testing.TB, conn datomic.Conn, opts Options) *Server {
	t.Helper()
	s := Start(conn, opts)
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake peer-server for conn outside a test (a benchmark
// command serving a database to another process, say); the caller must
// Close it.
func Start(conn datomic.Conn, opts Options) *Server {
	if opts.AccessKey == "" {
		opts.AccessKey = DefaultAccessKey
	}
	if opts.Secret == "" {
		opts.Secret = DefaultSecret
	}
	s := newServer(opts)
	s.addDatabase(s.opts.DBName, s.opts.DatabaseID, conn)
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

func newServer(opts Options) *Server {
	if opts.DBName == "" {
		opts.DBName = DefaultDBName
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		dbs:     map[string]*database{},
		counts:  map[string]int{},
		headers: map[string]http.Header{},
		faults:  map[string][]Fault{},
		cursors: map[string]*cursor{},
		closing: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func (s *Server) start(t testing.TB) {
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
}

// addDatabase serves conn as name; id "" takes the connection's own id.
func (s *Server) addDatabase(name, id string, conn datomic.Conn) *database {
	if id == "" {
		if idf, ok := conn.(datomic.Identified); ok {
			id, _ = idf.DatabaseID(context.Background())
		}
	}
	if id == "" {
		id = "datomic:mem://" + name
	}
	db := &database{name: name, id: id, conn: conn}
	s.mu.Lock()
	s.dbs[name] = db
	s.mu.Unlock()
	return db
}

// database returns the database named name, or the one with :database-id
// id when name is "".
func (s *Server) database(name, id string) (*database, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != "" {
		db, ok := s.dbs[name]
		return db, ok && (id == "" || db.id == id)
	}
	for _, db := range s.dbs {
		if db.id == id {
			return db, true
		}
	}
	return nil, false
}

// Close stops the server and releases its cursors.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
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

// Client returns an HTTP client that trusts the server's certificate, such
// as CloudConfig puts in cloud.Config.HTTPClient.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Certificate is the server's TLS certificate.
func (s *Server) Certificate() *x509.Certificate { return s.srv.Certificate() }

// DatabaseID returns the :database-id the server gives database name ("":
// the served connection's).
func (s *Server) DatabaseID(name string) string {
	if name == "" {
		name = s.opts.DBName
	}
	db, _ := s.database(name, "")
	if db == nil {
		return ""
	}
	return db.id
}

// Config returns a peer.Config that reaches this peer-server: its endpoint,
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
// "transact", "datomic.catalog/resolve-db"; "GET /" on a Cloud server) the
// server has received, counting rejected ones.
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
	kwSince      = datomic.Keyword("since")
	kwHistory    = datomic.Keyword("history")
	kwHistoryQ   = datomic.Keyword("history?")
	kwResult     = datomic.Keyword("result")
)

// Header returns the headers of the latest request for op (nil if none),
// with its Host header.
func (s *Server) Header(op string) http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headers[op].Clone()
}

func (s *Server) count(op string, r *http.Request) {
	h := r.Header.Clone()
	h.Set("Host", r.Host)
	s.mu.Lock()
	s.counts[op]++
	s.headers[op] = h
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.cloud != nil && r.Method == http.MethodGet && r.URL.Path == "/" {
		s.count("GET /", r)
		s.serveAuthPath(w)
		return
	}
	op := strings.TrimPrefix(r.Header.Get(peer.HeaderOp), "datomic.client.protocol/")
	s.count(op, r)
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.cloud != nil && r.URL.Path != "/api" {
		http.Error(w, "not found", http.StatusNotFound)
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
	if s.cloud != nil {
		v = s.cloudVerifier(r.Context(), op, body)
		if h := r.Header.Get(sign.HeaderCognitectHost); h != "" && h != r.Host {
			s.log.Info("peertest: rejected request", "op", op, "err", "x-cognitect-host differs from host")
			writeTransit(w, http.StatusForbidden, transit.Map{{Key: datomic.Keyword("cause"), Value: "Forbidden"}})
			return
		}
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
	switch op {
	case "datomic.catalog/resolve-db":
		name, _ := req.Get(kwDBName)
		n, _ := name.(string)
		db, ok := s.database(n, "")
		if !ok || n == "" {
			return http.StatusNotFound, anomaly(datomic.CatNotFound, "", fmt.Sprintf("no database named %v", name))
		}
		return http.StatusOK, transit.Map{{Key: kwDatabaseID, Value: db.id}}
	case "datomic.catalog/list-dbs":
		return http.StatusOK, transit.Map{{Key: kwResult, Value: s.names()}}
	case "datomic.catalog/create-db", "datomic.catalog/delete-db":
		if s.cloud == nil {
			break
		}
		return s.cloudCatalog(ctx, op, req)
	case "next":
		return s.next(ctx, req)
	}
	if strings.HasPrefix(op, "datomic.catalog/") {
		return http.StatusBadRequest, transit.Map{{Key: datomic.Keyword("cause"), Value: "Invalid Op"}}
	}
	id, _ := req.Get(kwDatabaseID)
	idStr, _ := id.(string)
	db, ok := s.database("", idStr)
	if !ok || idStr == "" {
		return http.StatusNotFound, anomaly(datomic.CatNotFound, "", fmt.Sprintf("no database %v", id))
	}
	switch op {
	case "status":
		v, err := db.conn.DB(ctx)
		if err != nil {
			return errorResponse(err)
		}
		return http.StatusOK, db.desc(v.BasisT())
	case "tx-range", "datoms", "index-range":
		return s.chunked(ctx, db, op, req)
	case "transact":
		return s.transact(ctx, db, req)
	}
	return http.StatusBadRequest, transit.Map{{Key: datomic.Keyword("cause"), Value: "Invalid Op"}}
}

// names lists the served databases.
func (s *Server) names() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]any, 0, len(s.dbs))
	for name := range s.dbs {
		out = append(out, name)
	}
	return out
}

func (d *database) desc(t int64) transit.Map {
	return transit.Map{
		{Key: kwDatabaseID, Value: d.id},
		{Key: kwDBName, Value: d.name},
		{Key: kwT, Value: t},
		{Key: kwNextT, Value: t + 1},
	}
}

// errUnsupported is the refusal of a request option the server does not
// implement: it never answers as if the option were absent.
func errUnsupported(format string, args ...any) error {
	return &datomic.Error{Category: datomic.CatUnsupported, Message: "peertest: " + fmt.Sprintf(format, args...), Op: -1}
}

// value returns the database value a request's context names: the latest,
// or as of :as-of (or of an earlier :t). Filters the engine cannot apply,
// :since and :history, are refused.
func (d *database) value(ctx context.Context, req transit.Map) (datomic.DB, error) {
	if v, ok := req.Get(kwSince); ok && v != nil {
		return nil, errUnsupported(":since %v: since-filtered database values are not supported", v)
	}
	for _, k := range []datomic.Keyword{kwHistory, kwHistoryQ} {
		if v, ok := req.Get(k); ok && v != nil && v != false {
			return nil, errUnsupported("%v %v: history database values are not supported", k, v)
		}
	}
	db, err := d.conn.DB(ctx)
	if err != nil {
		return nil, err
	}
	if a, ok := req.Get(kwAsOf); ok && a != nil {
		t, err := asOfT(ctx, db, a)
		if err != nil {
			return nil, err
		}
		return db.AsOf(t), nil
	}
	if t, ok := req.Get(kwT); ok {
		if t, ok := t.(int64); ok && t > 0 && t < db.BasisT() {
			return db.AsOf(t), nil
		}
	}
	return db, nil
}

// asOfT reads an :as-of given as a t, a transaction id or an instant.
func asOfT(ctx context.Context, db datomic.DB, v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return datomic.ToT(x), nil
	case time.Time:
		// The last transaction at or before the instant.
		next, ok, err := firstTxAt(ctx, db, x.Add(time.Millisecond))
		if err != nil {
			return 0, err
		}
		if !ok {
			return db.BasisT(), nil
		}
		return next - 1, nil
	}
	return 0, errUnsupported(":as-of %v (%T) is not a t, a transaction id or an instant", v, v)
}
