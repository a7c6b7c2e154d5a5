package main

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example runs for a short while, logs at Info what its loops did,
// and its standby verifies identical to the source.
func TestRun(t *testing.T) {
	var out, logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	require.NoError(t, run(t.Context(), &out, logger, 2*time.Second, t.TempDir()))
	assert.Regexp(t, `^ran 2s: \d+ segments; standby verified identical over \d+ transactions and \d+ datoms\n$`, out.String())
	assert.Contains(t, logs.String(), "level=INFO msg=\"backed up\" segments=")
	assert.NotContains(t, logs.String(), "level=DEBUG", "Info by default")
	assert.NotContains(t, logs.String(), "level=ERROR")
}
