package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/internal/s3test"
)

// TestDemo runs the example's commands against the test server, configured
// only through the standard AWS environment variables, as a user would.
func TestDemo(t *testing.T) {
	srv := s3test.Require(t)
	bucket := s3test.NewBucket(t, s3test.NewClient(t))
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
		"DCBACKUP_S3_PATH_STYLE":      "true",
	} {
		t.Setenv(k, v)
	}
	ctx := t.Context()
	data := filepath.Join("..", "..", "..", "shared", "data", "mbrainz")
	require.NoError(t, run(ctx, "demo", bucket, "dcbackup", "mbrainz", false, data))
	require.NoError(t, run(ctx, "list", bucket, "dcbackup", "mbrainz", false, data))
	require.NoError(t, run(ctx, "last", bucket, "dcbackup", "mbrainz", false, data))
	// A second demo into the same database is refused: it would back up a
	// different in-memory source under the same name.
	require.ErrorContains(t, run(ctx, "demo", bucket, "dcbackup", "mbrainz", false, data), "already holds segments")
	require.Error(t, run(ctx, "nonsense", bucket, "dcbackup", "mbrainz", false, data))
}
