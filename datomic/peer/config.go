package peer

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"time"
)

// Config says how to reach one database of a peer-server.
type Config struct {
	// Endpoint is the peer-server's address, "host:port" or
	// "https://host:port" (the peer-server speaks HTTPS only).
	Endpoint string
	// AccessKey and Secret are the pair given to the peer-server with -a.
	AccessKey string
	Secret    string
	// DBName is the database name the peer-server serves (-d name,uri).
	DBName string
	// TLS says which server certificates to trust.
	TLS TLSConfig
	// HTTPClient, when set, sends the requests; its transport's TLS settings
	// are then the caller's and TLS is ignored.
	HTTPClient *http.Client
	// Logger receives request and retry logs; nil discards them.
	Logger *slog.Logger
	// Timeout bounds each operation, retries included (default 60s, as the
	// official client). A context deadline that comes sooner wins.
	Timeout time.Duration
	// Retry sets the back-off of retried requests.
	Retry RetryPolicy
	// TxRangeChunk is the number of transactions per tx-range chunk
	// (default 100); it bounds the memory a log read holds.
	TxRangeChunk int
	// DatomsChunk is the number of datoms per datoms/index-range chunk
	// (default 1000).
	DatomsChunk int
	// MaxResponseBytes bounds one response body (default 256 MiB).
	MaxResponseBytes int64
	// Now is the clock used to sign requests (time.Now when nil).
	Now func() time.Time
}

// TLSConfig says which server certificates to trust. The zero value trusts
// a server whose certificate chain contains the certificate Datomic ships as
// its built-in trust anchor (transactor-trust.pem), checked by SHA-256
// fingerprint; host names are not checked, as that certificate names no host.
type TLSConfig struct {
	// RootCAs, when set, switches to standard verification: the chain must
	// lead to one of these CAs, be valid now, and name the host
	// (ServerName, or the endpoint's host). Use it for a server with a
	// properly issued certificate. Pins and Anchors are then ignored.
	RootCAs *x509.CertPool
	// ServerName overrides the host name checked with RootCAs and sent as SNI.
	ServerName string
	// Fingerprints are SHA-256 fingerprints (hex, colons and case ignored)
	// of certificates to trust when they appear in the server's chain,
	// replacing the default pin of the Datomic trust anchor.
	Fingerprints []string
	// Anchors are issuers trusted to sign the server's certificate, checked
	// by signature only (expiry and SHA-1 signatures tolerated, as the
	// Datomic anchor needs), in addition to the fingerprints.
	Anchors []*x509.Certificate
}

// DatomicTrustAnchorSHA256 is the SHA-256 fingerprint of the self-signed
// certificate that Datomic's clients trust by default (transactor-trust.pem:
// every name "Unknown", RSA 1024 with SHA-1, valid 2012-01-29 to 2022-01-26).
const DatomicTrustAnchorSHA256 = "4055f34f74c13e3b9e71065e238a6baf7adc45127b994ce8ccb5c09681bcb7bb"

// RetryPolicy is the back-off of retried requests. Only idempotent
// operations are retried (every one but transact). The zero value is the
// official client's policy.
type RetryPolicy struct {
	// BusyDelays are the waits before each retry of a busy answer
	// (default 100ms, 200ms, 400ms).
	BusyDelays []time.Duration
	// UnavailableDelay is the wait before each retry of an unavailable or
	// interrupted answer, or of a failed connection (default 3s).
	UnavailableDelay time.Duration
	// UnavailableRetries bounds those retries (default 20; negative: none).
	UnavailableRetries int
}

const (
	defaultTimeout          = 60 * time.Second
	defaultTxRangeChunk     = 100
	defaultDatomsChunk      = 1000
	defaultMaxResponseBytes = 256 << 20
	defaultUnavailableDelay = 3 * time.Second
	defaultUnavailableRetry = 20
)

var defaultBusyDelays = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.TxRangeChunk <= 0 {
		c.TxRangeChunk = defaultTxRangeChunk
	}
	if c.DatomsChunk <= 0 {
		c.DatomsChunk = defaultDatomsChunk
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = defaultMaxResponseBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Retry.BusyDelays == nil {
		c.Retry.BusyDelays = defaultBusyDelays
	}
	if c.Retry.UnavailableDelay <= 0 {
		c.Retry.UnavailableDelay = defaultUnavailableDelay
	}
	switch {
	case c.Retry.UnavailableRetries == 0:
		c.Retry.UnavailableRetries = defaultUnavailableRetry
	case c.Retry.UnavailableRetries < 0:
		c.Retry.UnavailableRetries = 0
	}
	return c
}
