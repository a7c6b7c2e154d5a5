// Command cloud is a small service that backs a Datomic Cloud database up
// to S3, continuously: it connects to the system with datomic/cloud, then
// runs dcbackup.ContinuousBackup until it is stopped (SIGINT or SIGTERM),
// logging every round and answering health checks.
//
//	AWS_REGION=us-east-1 AWS_PROFILE=backup go run ./examples/cloud \
//	    -endpoint https://abc123.execute-api.us-east-1.amazonaws.com \
//	    -system my-system -db orders \
//	    -bucket my-backups -prefix datomic -listen :8080
//
// The AWS credentials (from the environment, shared files, SSO or an
// instance role) need s3:GetObject on the system's access keys
// (s3://<the system's bucket>/<system>/datomic/access/dbs/db/<db>/read/.keys)
// and read/write access to the backup bucket; see docs/CLOUD.md.
//
// GET /healthz on -listen answers 200 while the last backup round
// succeeded, 503 with the error otherwise.
//
// Copy this file into your own module: it uses only dcbackup's public API.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/cloud"
)

// settings are the service's flags.
type settings struct {
	endpoint, system, region, db string
	bucket, prefix               string
	interval                     time.Duration
	listen                       string
	pathStyle                    *bool // nil: path-style when an S3 endpoint is configured

	// httpClient, when set, reaches the Datomic endpoint (a test's fake
	// system); onResult, when set, sees every backup round.
	httpClient *http.Client
	onResult   func(dcbackup.BackupResult, error)
}

func main() {
	var s settings
	flag.StringVar(&s.endpoint, "endpoint", os.Getenv("DATOMIC_ENDPOINT"), "Datomic Cloud client endpoint URL (env DATOMIC_ENDPOINT)")
	flag.StringVar(&s.system, "system", os.Getenv("DATOMIC_SYSTEM"), "Datomic Cloud system name (env DATOMIC_SYSTEM)")
	flag.StringVar(&s.region, "region", os.Getenv("DATOMIC_REGION"), "the system's AWS region (env DATOMIC_REGION; default: the AWS configuration's)")
	flag.StringVar(&s.db, "db", os.Getenv("DATOMIC_DB"), "database to back up (env DATOMIC_DB)")
	flag.StringVar(&s.bucket, "bucket", os.Getenv("DCBACKUP_BUCKET"), "bucket receiving the backups (env DCBACKUP_BUCKET)")
	flag.StringVar(&s.prefix, "prefix", "dcbackup", "key prefix in the bucket")
	flag.DurationVar(&s.interval, "interval", time.Minute, "pause between backup rounds once up to date")
	flag.StringVar(&s.listen, "listen", "", "address of the /healthz endpoint (e.g. :8080; empty: none)")
	flag.BoolFunc("s3-path-style", "path-style S3 addressing; default: on when an S3 endpoint is configured (AWS_ENDPOINT_URL_S3)", func(v string) error {
		b, err := strconv.ParseBool(v)
		s.pathStyle = &b
		return err
	})
	flag.Parse()

	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s, logger); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("backup service stopped", "err", err)
		os.Exit(1)
	}
}

// run backs the database up until ctx ends.
func run(ctx context.Context, s settings, logger *slog.Logger) error {
	if s.endpoint == "" || s.system == "" || s.db == "" || s.bucket == "" {
		return errors.New("-endpoint, -system, -db and -bucket are required")
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	// One S3 client reads the system's keyfiles and writes the backups.
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// S3-compatible servers (an endpoint from AWS_ENDPOINT_URL_S3 or the
		// profile) usually want path-style addressing.
		o.UsePathStyle = o.BaseEndpoint != nil
		if s.pathStyle != nil {
			o.UsePathStyle = *s.pathStyle
		}
		if o.Region == "" {
			o.Region = s.region
		}
	})

	conn, err := cloud.Connect(ctx, cloud.Config{
		Endpoint:   s.endpoint,
		System:     s.system,
		Region:     s.region, // default: the AWS configuration's
		DBName:     s.db,
		AWS:        awsCfg,
		S3:         s3c,
		HTTPClient: s.httpClient,
		Logger:     logger,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	id, _ := conn.DatabaseID(ctx)
	logger.Info("connected", "db", s.db, "database_id", id)

	store, err := dcbackup.NewS3Store(s3c, s.bucket, s.prefix, dcbackup.S3Options{})
	if err != nil {
		return err
	}
	health := &health{}
	if s.listen != "" {
		stopHTTP, err := serveHealth(s.listen, health, logger)
		if err != nil {
			return err
		}
		defer stopHTTP()
	}
	return dcbackup.ContinuousBackup(ctx, s.db, conn, store, &dcbackup.ContinuousBackupOptions{
		Interval: s.interval,
		Backup:   dcbackup.BackupOptions{Logger: logger},
		OnResult: func(r dcbackup.BackupResult, err error) {
			health.record(r, err)
			if err != nil {
				logger.Error("backup round failed", "err", err)
			} else if r.Segments > 0 {
				logger.Info("backed up", "segments", r.Segments, "transactions", r.Transactions,
					"datoms", r.Datoms, "bytes", r.Bytes, "end_t", r.EndT, "more", r.More)
			}
			if s.onResult != nil {
				s.onResult(r, err)
			}
		},
	})
}

// health is the outcome of the latest backup round.
type health struct {
	mu      sync.Mutex
	last    time.Time // of the latest successful round
	endT    int64
	lastErr error
}

func (h *health) record(r dcbackup.BackupResult, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr = err
	if err == nil {
		h.last, h.endT = time.Now(), r.EndT
	}
}

func (h *health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	body := map[string]any{"last_success": h.last, "end_t": h.endT}
	status := http.StatusOK
	if h.lastErr != nil {
		body["error"] = h.lastErr.Error()
		status = http.StatusServiceUnavailable
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// serveHealth serves /healthz on addr until the returned function is called.
func serveHealth(addr string, h *health, logger *slog.Logger) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", h)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health endpoint: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("health endpoint up", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
