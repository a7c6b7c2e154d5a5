// Package cloud is a client for Datomic Cloud. It speaks the Datomic client
// protocol (transit+json bodies signed with Cognitect's variant of AWS
// SigV4), as package datomic/peer does for Datomic Pro, with Cloud's
// authentication: the endpoint names an S3 location, and the signing keys
// are read from keyfiles there with the caller's AWS credentials, one
// keyfile per kind of operation, cached and re-read when the system
// rotates its keys.
//
// [Connect] returns a [Conn], which implements datomic.Conn,
// datomic.Identified and datomic.Limited; [NewClient] also lists, creates
// and deletes databases.
//
// The protocol is not officially documented; this client follows the
// request shapes of Cognitect's own client. It has been tested only
// against the fake system of package peertest, never against a live
// Datomic Cloud system.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/client"
)

// ErrMalformed is wrapped by the error of a response (or a keyfile) that
// cannot be read: not transit, truncated, or missing what the operation
// needs. Such errors are *datomic.Error values of category fault that name
// the operation.
var ErrMalformed = client.ErrMalformed

// Client is a connection to a Datomic Cloud system: it lists, creates and
// deletes databases, and connects to them. It is safe for concurrent use.
type Client struct {
	t      *client.Transport
	system string
}

// NewClient checks cfg, asks the endpoint where the system's keys are
// (GET /), and returns a client for the system. cfg.DBName is not used.
func NewClient(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	u, host, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.System == "":
		return nil, errors.New("cloud: Config.System is empty")
	case cfg.Region == "":
		return nil, errors.New("cloud: Config.Region is empty (and so is Config.AWS.Region)")
	}
	s3c := cfg.S3
	if s3c == nil {
		if cfg.AWS.Credentials == nil {
			return nil, errors.New("cloud: Config.S3 is not set and Config.AWS has no credentials to read the keyfiles with")
		}
		region := cfg.Region
		s3c = s3.NewFromConfig(cfg.AWS, func(o *s3.Options) {
			if o.Region == "" {
				o.Region = region
			}
		})
	}
	t := &client.Transport{
		Product:          "cloud",
		URL:              u.JoinPath("/api").String(),
		Host:             host,
		Timeout:          cfg.Timeout,
		Retry:            client.RetryPolicy(cfg.Retry),
		MaxResponseBytes: cfg.MaxResponseBytes,
		Logger:           cfg.Logger,
		Now:              cfg.Now,
		TxRangeChunk:     cfg.TxRangeChunk,
		DatomsChunk:      cfg.DatomsChunk,
		HTTP:             cfg.HTTPClient,
	}
	if t.HTTP == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		t.Owned = tr
		t.HTTP = &http.Client{Transport: tr}
	}
	authPath, err := fetchAuthPath(ctx, cfg, t.HTTP, u.JoinPath("/").String(), host)
	if err != nil {
		t.Close()
		return nil, err
	}
	t.Auth = newKeyring(s3c, authPath, cfg.System, cfg.Region)
	cfg.Logger.LogAttrs(ctx, slogDebug, "cloud system reached", attrOp("GET /"), attrAuthPath(authPath))
	return &Client{t: t, system: cfg.System}, nil
}

// parseEndpoint accepts an http or https URL; it returns the URL without
// path, query or fragment, and the host header for it: the host, with the
// port when it is not the scheme's default.
func parseEndpoint(ep string) (*url.URL, string, error) {
	if ep == "" {
		return nil, "", errors.New("cloud: Config.Endpoint is empty")
	}
	u, err := url.Parse(ep)
	if err != nil {
		return nil, "", fmt.Errorf("cloud: endpoint %q: %w", ep, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, "", fmt.Errorf("cloud: endpoint %q: want an https:// (or http://) URL", ep)
	}
	if u.Hostname() == "" {
		return nil, "", fmt.Errorf("cloud: endpoint %q has no host", ep)
	}
	host := u.Hostname()
	if port := u.Port(); port != "" && !(u.Scheme == "https" && port == "443") && !(u.Scheme == "http" && port == "80") {
		host = net.JoinHostPort(host, port)
	} else if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]"
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, host, nil
}

// Close releases idle connections. Neither the Client nor the connections
// it made may be used afterwards.
func (c *Client) Close() error {
	c.t.Close()
	return nil
}

// ListDatabases returns the names of the system's databases (signed with
// the catalog read key).
func (c *Client) ListDatabases(ctx context.Context) ([]string, error) {
	return client.ListDBs(ctx, c.t)
}

// CreateDatabase creates database name (signed with the admin key). It is
// not retried: after a failure in transit the database may or may not
// exist.
func (c *Client) CreateDatabase(ctx context.Context, name string) error {
	if err := checkDBName(name); err != nil {
		return err
	}
	return client.CreateDB(ctx, c.t, name)
}

// DeleteDatabase deletes database name and its history (signed with the
// admin key). It is not retried.
func (c *Client) DeleteDatabase(ctx context.Context, name string) error {
	if err := checkDBName(name); err != nil {
		return err
	}
	return client.DeleteDB(ctx, c.t, name)
}

// Connect resolves database name and reads its basis. A database that does
// not exist is an error matching datomic.ErrNotFound that names it (its
// keyfile is missing; nothing is sent to the endpoint).
func (c *Client) Connect(ctx context.Context, name string) (*Conn, error) {
	if err := checkDBName(name); err != nil {
		return nil, err
	}
	cc, err := client.Connect(ctx, c.t, name)
	if err != nil {
		return nil, err
	}
	return &Conn{c: cc}, nil
}

// Conn is a connection to one database of a Datomic Cloud system. It is
// safe for concurrent use.
type Conn struct {
	c     *client.Conn
	owned *Client // closed by Close when Connect made it
}

var (
	_ datomic.Conn       = (*Conn)(nil)
	_ datomic.Identified = (*Conn)(nil)
	_ datomic.Limited    = (*Conn)(nil)
)

// Connect reaches the system of cfg and connects to database cfg.DBName.
// Close releases the connection and its client.
func Connect(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.DBName == "" {
		return nil, errors.New("cloud: Config.DBName is empty")
	}
	cl, err := NewClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	conn, err := cl.Connect(ctx, cfg.DBName)
	if err != nil {
		_ = cl.Close()
		return nil, err
	}
	conn.owned = cl
	return conn, nil
}

// Close releases idle connections when the Conn was made by Connect (a
// Conn from Client.Connect shares its Client's, which Client.Close
// releases). The Conn must not be used afterwards.
func (c *Conn) Close() error {
	if c.owned != nil {
		return c.owned.Close()
	}
	return nil
}

// DatabaseID returns the system's :database-id of the database (a UUID),
// as resolve-db answered it; it implements datomic.Identified.
func (c *Conn) DatabaseID(context.Context) (string, error) { return c.c.DatabaseID(), nil }

// DBName is the database name the connection was made with.
func (c *Conn) DBName() string { return c.c.DBName() }

// Limits returns what a Datomic Cloud database refuses that Datomic Pro
// accepts; it implements datomic.Limited.
func (c *Conn) Limits(context.Context) (datomic.Limits, error) { return limits(), nil }

// limits are Datomic Cloud's: no partition control, excision, bytes,
// full-text search or stored functions; strings up to 4096 characters and
// 256 inside tuples; five bootstrap transactions at the start of the log.
func limits() datomic.Limits {
	return datomic.Limits{
		Product:           "Datomic Cloud",
		NoPartitions:      true,
		NoExcision:        true,
		NoBytes:           true,
		NoFulltext:        true,
		NoFunctions:       true,
		MaxStringLen:      4096,
		MaxTupleStringLen: 256,
		BootstrapTxs:      5,
	}
}

// DB returns the database's latest value, asking the system for its basis.
func (c *Conn) DB(ctx context.Context) (datomic.DB, error) { return c.c.DB(ctx) }

// TxRange streams the log's transactions with t in [start, end) (end <= 0:
// to the end), Config.TxRangeChunk transactions per request, always with
// :limit -1, following the system's :next pages. The bootstrap
// transactions (t 1 to 5) are part of the log.
func (c *Conn) TxRange(ctx context.Context, start, end int64) iter.Seq2[datomic.Tx, error] {
	return c.c.TxRange(ctx, start, end)
}

// Transact runs ops as one transaction. It is sent again only when the
// system refused its key (403) and the keyfile holds a new one, never
// after a failure in transit: such a transact may or may not have been
// applied.
func (c *Conn) Transact(ctx context.Context, ops []datomic.Op) (datomic.TxReport, error) {
	return c.c.Transact(ctx, ops)
}
