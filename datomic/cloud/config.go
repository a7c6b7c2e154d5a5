package cloud

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Config says how to reach a Datomic Cloud system and, for Connect, one of
// its databases.
type Config struct {
	// Endpoint is the system's client endpoint, with its scheme: the API
	// Gateway URL of the system's ClientApiGatewayEndpoint output (e.g.
	// "https://abc123.execute-api.us-east-1.amazonaws.com"). Its path is
	// not used: the client asks GET / and sends every operation to /api.
	Endpoint string
	// Region is the system's AWS region, which every signature names
	// (default: AWS.Region).
	Region string
	// System is the name of the Datomic Cloud system (its compute stack's
	// system name); the access keys live under it in S3.
	System string
	// DBName is the database Connect connects to (Client.Connect takes the
	// name instead).
	DBName string
	// AWS is the caller's aws-sdk-go-v2 configuration (e.g. from
	// config.LoadDefaultConfig), whose credentials read the keyfiles from
	// S3. It is not needed when S3 is set.
	AWS aws.Config
	// S3, when set, reads the keyfiles instead of a client made from AWS;
	// an *s3.Client is one.
	S3 S3API
	// HTTPClient, when set, sends the requests to the endpoint (its
	// transport's TLS settings and proxy are then the caller's); the
	// default verifies the endpoint's certificate against the system's
	// roots.
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

// S3API is the part of the S3 client that reads keyfiles.
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// RetryPolicy is the back-off of retried requests. Reads are retried
// (every operation but transact, create-db and delete-db); a request
// refused with 403 is sent once more when its keyfile holds a new key. The
// zero value is the official client's policy.
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
	if c.Region == "" {
		c.Region = c.AWS.Region
	}
	if c.Retry.BusyDelays == nil {
		c.Retry.BusyDelays = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
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
