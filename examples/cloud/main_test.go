package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
	"github.com/dcbackup/dcbackup/internal/s3test"
)

// TestService runs the service against a fake Datomic Cloud system whose
// keyfiles, and the backups, are in the S3 test server, configured through
// the standard AWS environment variables as a user would, until its first
// round has backed the whole log up.
func TestService(t *testing.T) {
	srv := s3test.Require(t)
	s3c := s3test.NewClient(t)
	bucket := s3test.NewBucket(t, s3c)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3":         srv.Endpoint,
		"AWS_REGION":                  srv.Region,
		"AWS_ACCESS_KEY_ID":           srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY":       srv.SecretKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             none, // keep the developer's files out
		"AWS_SHARED_CREDENTIALS_FILE": none,
	} {
		t.Setenv(k, v)
	}

	ctx := context.Background()
	db := mem.New(mem.Options{Cloud: true})
	_, err := db.Transact(ctx, []datomic.Op{datomic.EntityMap{
		"db/ident": datomic.Keyword("item/name"), "db/valueType": datomic.Keyword("db.type/string"),
		"db/cardinality": datomic.Keyword("db.cardinality/one"),
	}})
	require.NoError(t, err)
	for i := range 40 {
		_, err := db.Transact(ctx, []datomic.Op{datomic.EntityMap{"item/name": "item " + strconv.Itoa(i)}})
		require.NoError(t, err)
	}
	system := peertest.NewCloudServer(t, db, peertest.Options{DBName: "orders",
		Cloud: peertest.CloudOptions{S3: s3c, Bucket: bucket, System: "prod", Region: srv.Region}})

	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s := settings{
		endpoint: system.URL(), system: "prod", db: "orders", bucket: bucket, prefix: "backups",
		interval: time.Hour, httpClient: system.Client(), // path-style: AWS_ENDPOINT_URL_S3 is set
		onResult: func(r dcbackup.BackupResult, err error) {
			if err != nil {
				t.Errorf("backup round: %v", err)
			}
			if err != nil || !r.More {
				cancel()
			}
		},
	}
	err = run(runCtx, s, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, context.Canceled)

	store, err := dcbackup.NewS3Store(s3c, bucket, "backups", dcbackup.S3Options{})
	require.NoError(t, err)
	last, ok, err := dcbackup.LastSegmentInfo(ctx, "orders", store)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, db.Stats().BasisT+1, last.EndT, "the whole log, bootstrap transactions included")
	gaps, err := dcbackup.Gaps(ctx, "orders", store)
	require.NoError(t, err)
	assert.Empty(t, gaps)

	// Missing settings are refused before anything is reached.
	assert.Error(t, run(ctx, settings{endpoint: system.URL()}, slog.New(slog.DiscardHandler)))
}

func TestHealth(t *testing.T) {
	h := &health{}
	check := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		return rec.Code
	}
	assert.Equal(t, http.StatusOK, check())
	h.record(dcbackup.BackupResult{}, errors.New("boom"))
	assert.Equal(t, http.StatusServiceUnavailable, check())
	h.record(dcbackup.BackupResult{EndT: 7}, nil)
	assert.Equal(t, http.StatusOK, check())
}
