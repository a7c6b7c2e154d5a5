package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/internal/s3test"
)

// TestDemo runs the example's commands against the test server, configured
// only through the AWS SDK's standard environment, as a user would.
func TestDemo(t *testing.T) {
	srv := s3test.SetAWSEnv(t)
	bucket := s3test.NewBucket(t, s3test.NewClient(t))
	ctx := t.Context()
	o := options{store: "s3://" + bucket + "/dcbackup", db: "shop"}
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, "demo", o))
	assert.Regexp(t, `(?m)^verified: 2001 transactions, \d+ datoms identical modulo ids$`, out.String())
	out.Reset()
	require.NoError(t, run(ctx, &out, "list", o))
	assert.Regexp(t, `(?m)^\d+ segments, \d+ bytes in s3://`+bucket+`/dcbackup/shop/$`, out.String())
	out.Reset()
	require.NoError(t, run(ctx, &out, "last", o))
	assert.Contains(t, out.String(), "last segment ")
	// A second demo into the same database is refused: it would back up a
	// different in-memory source under the same name.
	require.ErrorContains(t, run(ctx, &out, "demo", o), "already holds segments")
	require.Error(t, run(ctx, &out, "nonsense", o))

	// The endpoint given as a flag instead, and a bucket created by the
	// example.
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	o = options{store: "s3://" + bucket + "-2", db: "shop", endpoint: srv.Endpoint, createBucket: true}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // t.Context is done
		defer cancel()
		assert.NoError(t, s3test.RemoveBucket(ctx, s3test.NewClient(t), bucket+"-2"))
	})
	out.Reset()
	require.NoError(t, run(ctx, &out, "demo", o))
	assert.Contains(t, out.String(), "verified: ")

	_, err := newClient(ctx, "localhost:7070", nil)
	assert.ErrorContains(t, err, `-s3-endpoint "localhost:7070": want a URL`)
	require.ErrorContains(t, run(ctx, &out, "list", options{store: "bucket/prefix"}), "want s3://bucket/prefix")
}
