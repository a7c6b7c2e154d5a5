package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

func TestExitCode(t *testing.T) {
	assert.Equal(t, exitOK, exitCode(nil))
	assert.Equal(t, exitUnhealthy, exitCode(unhealthy("segment %d", 1)))
	assert.Equal(t, exitUnhealthy, exitCode(&dcbackup.SegmentError{Err: fmt.Errorf("%w: bad", dcbackup.ErrCorruptSegment)}))
	assert.Equal(t, exitUnhealthy, exitCode(fmt.Errorf("x: %w", dcbackup.ErrUnsupportedSegmentVersion)))
	assert.Equal(t, exitError, exitCode(fmt.Errorf("load: %w", dcbackup.ErrSegmentNotFound)))
	assert.Equal(t, exitError, exitCode(errors.New("connection refused")))
	assert.ErrorIs(t, unhealthy("wrap %w", dcbackup.ErrGap), dcbackup.ErrGap)
}

func TestParseS3URL(t *testing.T) {
	for _, tc := range []struct{ in, bucket, prefix string }{
		{"s3://b", "b", ""},
		{"s3://b/", "b", ""},
		{"s3://b/p", "b", "p"},
		{"s3://b/p/q/", "b", "p/q"},
	} {
		b, p, err := parseS3URL(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, [2]string{tc.bucket, tc.prefix}, [2]string{b, p}, tc.in)
	}
	_, _, err := parseS3URL("s3:///p")
	assert.Error(t, err)
}

func TestParseSegmentFlag(t *testing.T) {
	got, err := parseSegmentFlag("1000-2000")
	require.NoError(t, err)
	assert.Equal(t, dcbackup.SegmentInfo{StartT: 1000, EndT: 2000}, got)
	for _, bad := range []string{"", "1000", "a-b", "5-5", "-1-3", "3-2"} {
		_, err := parseSegmentFlag(bad)
		assert.Error(t, err, bad)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 40: "3.0 TiB"} {
		assert.Equal(t, want, humanBytes(n), n)
	}
}
