// Package peer is a client for a Datomic Pro peer-server, speaking the
// Datomic client protocol (HTTPS POST of transit+json bodies, signed with
// Cognitect's variant of AWS SigV4). [Connect] returns a [Conn], which
// implements datomic.Conn; its database values implement datomic.DB.
//
// The protocol is not officially documented; this client mimics the request
// shapes of Cognitect's own client. It has been tested only against the fake
// server of package peertest, never against a live peer-server.
package peer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/client"
	"github.com/dcbackup/dcbackup/datomic/internal/sign"
)

// ContentType is the body encoding the client sends and accepts.
const ContentType = "application/transit+json"

// Protocol header names.
const (
	HeaderOp     = "X-Nano-Op"
	HeaderTarget = "X-Nano-Target"
	HeaderNext   = "X-Nano-Next"
)

// ErrMalformed is wrapped by the error of a response that cannot be read:
// not transit, truncated, or missing what the operation needs. Such errors
// are *datomic.Error values of category fault that name the operation.
var ErrMalformed = client.ErrMalformed

// ErrUntrustedServer is wrapped by the TLS error of a server whose
// certificate is neither pinned nor signed by a trusted anchor.
var ErrUntrustedServer = client.ErrUntrustedServer

// Conn is a connection to one database of a peer-server. It is safe for
// concurrent use.
type Conn struct {
	c *client.Conn
}

// DB is a database value of a peer-server connection: the database at one
// basis (and, after AsOf, as of an earlier t). It implements datomic.DB by
// reading the server's indexes; idents and attributes it has read are
// remembered for the life of the value.
type DB = client.DB

var _ datomic.Conn = (*Conn)(nil)

// Connect resolves cfg.DBName on the peer-server and reads its basis.
func Connect(ctx context.Context, cfg Config) (*Conn, error) {
	cfg = cfg.withDefaults()
	if cfg.DBName == "" {
		return nil, errors.New("peer: Config.DBName is empty")
	}
	t, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	c, err := client.Connect(ctx, t, cfg.DBName)
	if err != nil {
		t.Close()
		return nil, err
	}
	return &Conn{c: c}, nil
}

// newTransport builds the transport of cfg (with its defaults applied).
func newTransport(cfg Config) (*client.Transport, error) {
	u, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	t := &client.Transport{
		Product:          "peer",
		URL:              u.String(),
		Host:             u.Hostname(), // a peer-server signs the host name without the port
		Auth:             client.StaticAuth{Cred: sign.Credentials{AccessKey: cfg.AccessKey, Secret: cfg.Secret}, Scope: sign.PeerServer},
		Timeout:          cfg.Timeout,
		Retry:            client.RetryPolicy(cfg.Retry),
		MaxResponseBytes: cfg.MaxResponseBytes,
		Logger:           cfg.Logger,
		Now:              cfg.Now,
		TxRangeChunk:     cfg.TxRangeChunk,
		DatomsChunk:      cfg.DatomsChunk,
	}
	if cfg.HTTPClient != nil {
		t.HTTP = cfg.HTTPClient
		return t, nil
	}
	tlsCfg, err := tlsClientConfig(cfg.TLS, u.Hostname())
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.Proxy = nil
	t.Owned = tr
	t.HTTP = &http.Client{Transport: tr}
	return t, nil
}

// parseEndpoint accepts "host:port" or "https://host:port[/path]".
func parseEndpoint(ep string) (*url.URL, error) {
	if ep == "" {
		return nil, errors.New("peer: Config.Endpoint is empty")
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil {
		return nil, fmt.Errorf("peer: endpoint %q: %w", ep, err)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("peer: endpoint %q: a peer-server speaks https only", ep)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("peer: endpoint %q has no host", ep)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// Close releases idle connections. The Conn must not be used afterwards.
func (c *Conn) Close() error {
	c.c.Transport().Close()
	return nil
}

// DatabaseID returns the server's :database-id of the database, as
// resolve-db answered it; it implements datomic.Identified.
func (c *Conn) DatabaseID(context.Context) (string, error) { return c.c.DatabaseID(), nil }

// DBName is the database name the connection was made with.
func (c *Conn) DBName() string { return c.c.DBName() }

// DB returns the database's latest value, asking the server for its basis.
func (c *Conn) DB(ctx context.Context) (datomic.DB, error) { return c.c.DB(ctx) }

// TxRange streams the log's transactions with t in [start, end) (end <= 0:
// to the end), Config.TxRangeChunk transactions per request, always with
// :limit -1, following the server's :next pages.
func (c *Conn) TxRange(ctx context.Context, start, end int64) iter.Seq2[datomic.Tx, error] {
	return c.c.TxRange(ctx, start, end)
}

// Transact runs ops as one transaction. It is never retried: a transact
// that fails in transit may or may not have been applied.
func (c *Conn) Transact(ctx context.Context, ops []datomic.Op) (datomic.TxReport, error) {
	return c.c.Transact(ctx, ops)
}
