package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/internal/s3test"
)

// TestS3 runs every command against the S3 test server (see
// internal/s3test; skipped without one).
func TestS3(t *testing.T) {
	srv := s3test.Require(t)
	client := s3test.NewClient(t)
	bucket := s3test.NewBucket(t, client)
	st, err := dcbackup.NewS3Store(client, bucket, "backups", dcbackup.S3Options{})
	require.NoError(t, err)
	f := backUp(t, st, "db", 12, 200, 40)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 3)
	where := "s3://" + bucket + "/backups"
	// Configured as users configure the AWS SDK: its standard environment.
	var env, noEndpoint []string
	for k, v := range srv.AWSEnv() {
		env = append(env, k+"="+v)
		if k != "AWS_ENDPOINT_URL_S3" {
			noEndpoint = append(noEndpoint, k+"="+v)
		}
	}

	// ls, from the environment, and with the endpoint as a flag.
	r := runCmd(t, env, "ls", "-store", where, "-db", "db", "-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var ls lsOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ls))
	assert.Equal(t, where, ls.Store)
	assert.Equal(t, len(segs), ls.Summary.Segments)
	assert.Equal(t, f.result.Bytes, ls.Summary.Bytes)
	assert.Zero(t, ls.Summary.Gaps)
	r2 := runCmd(t, noEndpoint, "ls", "-store", where+"/", "-db", "db", "-json", "-s3-endpoint", srv.Endpoint)
	require.Equal(t, exitOK, r2.code, r2.stderr)
	assert.Equal(t, r.stdout, r2.stdout)
	r = runCmd(t, env, "ls", "-store", where)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, fmt.Sprintf(`(?m)^db\s+%d\s+%d\s+`, len(segs), f.result.Bytes), r.stdout)

	// verify and stats read every segment.
	r = runCmd(t, env, "verify", "-store", where, "-j", "3")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("db: healthy: %d segments, %d transactions, %d datoms", len(segs), f.txs, f.datoms))
	r = runCmd(t, env, "stats", "-store", where, "-db", "db", "-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var stats struct{ Databases []dbStats }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &stats))
	require.Len(t, stats.Databases, 1)
	assert.Equal(t, f.txs, stats.Databases[0].Transactions)
	assert.Equal(t, f.datoms, stats.Databases[0].Datoms)

	// dump.
	r = runCmd(t, env, "dump", "-store", where, "-db", "db", "-start", fmt.Sprint(segs[1].StartT))
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Len(t, jsonLines(t, r.stdout), readSegment(t, st, "db", segs[1]).DatomCount())

	// Damage: one segment deleted, another overwritten with flipped bytes.
	ctx := t.Context()
	_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(st.Key("db", segs[1]))})
	require.NoError(t, err)
	key := st.Key("db", segs[2])
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	data, err := io.ReadAll(obj.Body)
	require.NoError(t, obj.Body.Close())
	require.NoError(t, err)
	data[len(data)-1] ^= 0xff
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	require.NoError(t, err)

	r = runCmd(t, env, "verify", "-store", where, "-db", "db")
	require.Equal(t, exitUnhealthy, r.code, r.stdout+r.stderr)
	// The damaged segment's range joins the missing one's in one gap.
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM gap %s", tRange(segs[1].StartT, segs[2].EndT)))
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM corrupt %s", tRange(segs[2].StartT, segs[2].EndT)))
	assert.Contains(t, r.stdout, "db: UNHEALTHY: 2 problems (1 corrupt, 1 gap)")
	// Headers only (ranged reads): the missing segment, not the flipped byte.
	r = runCmd(t, env, "verify", "-store", where, "-db", "db", "-headers")
	require.Equal(t, exitUnhealthy, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "db: UNHEALTHY: 1 problem (1 gap)")
	assert.Empty(t, r.stderr)

	// compact merges and deletes through the S3 store.
	c := backUp(t, st, "comp", 13, 200, 5)
	before, err := st.List(ctx, "comp", 0)
	require.NoError(t, err)
	r = runCmd(t, env, "compact", "-store", where, "-db", "comp", "-max-tx", "60")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	after, err := st.List(ctx, "comp", 0)
	require.NoError(t, err)
	assert.Less(t, len(after), len(before)/4)
	assert.Contains(t, r.stdout, fmt.Sprintf("comp: %d segments (", len(before)))
	r = runCmd(t, env, "verify", "-store", where, "-db", "comp")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("comp: healthy: %d segments, %d transactions, %d datoms", len(after), c.txs, c.datoms))

	// A bucket that does not exist is an I/O error, not an unhealthy backup.
	r = runCmd(t, env, "verify", "-store", "s3://"+bucket+"-absent/backups", "-db", "db")
	assert.Equal(t, exitError, r.code, r.stdout)
	assert.True(t, strings.Contains(r.stderr, "NoSuchBucket") || strings.Contains(r.stderr, "404"), r.stderr)
}

// TestS3NoRegion checks the hint given when nothing names a region.
func TestS3NoRegion(t *testing.T) {
	r := runCmd(t, nil, "ls", "-store", "s3://bucket/prefix", "-db", "db")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "no AWS region: set AWS_REGION")
}
