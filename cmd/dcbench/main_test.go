package main

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/internal/sampledata"
)

// TestMain lets mode peer start this test binary as its peer-server child.
func TestMain(m *testing.M) {
	if code, ok := peerServerMain(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// The command's modes run end to end on small workloads (figures are not
// checked: no timing assertions).
func TestModes(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, run(ctx, config{datoms: 20_000, dir: t.TempDir(), conc: 2, mode: "all", repeat: 2}))
	dir := t.TempDir()
	require.NoError(t, run(ctx, config{datoms: 20_000, dir: dir, conc: 2, mode: "backup"}))
	require.NoError(t, run(ctx, config{dir: dir, mode: "restore", target: "nop"}))
	require.NoError(t, run(ctx, config{dir: dir, mode: "restore", target: "mem", cacheSize: 1000}))
	require.Error(t, run(ctx, config{mode: "backup"}), "backup needs -dir")
	require.Error(t, run(ctx, config{mode: "nonsense"}))
}

// Mode latency runs without latency (a test does not sleep): one-transaction
// segments, restored, compacted and restored again.
func TestLatencyMode(t *testing.T) {
	require.NoError(t, run(context.Background(), config{mode: "latency", latencySegments: 30, target: "nop", repeat: 1}))
	require.NoError(t, run(context.Background(), config{mode: "latency", latencySegments: 10, target: "mem", repeat: 2, prefetch: 2}))
	require.Error(t, run(context.Background(), config{mode: "latency"}), "no segments")
}

// Mode peer starts the fake peer-server in a child process (this test
// binary, through TestMain), restores and backs up through it, and writes
// the CPU profiles.
func TestPeerMode(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, run(context.Background(), config{mode: "peer", peerTxs: 12, peerEntities: 3, peerCache: 10, conc: 2, repeat: 2, profileDir: dir}))
	names := []string{"peer-backup-client.pprof", "peer-backup-server.pprof", "peer-restore-client.pprof", "peer-restore-server.pprof"}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, len(names))
	for i, e := range entries {
		require.Equal(t, names[i], e.Name())
		fi, err := e.Info()
		require.NoError(t, err)
		require.Positive(t, fi.Size(), e.Name())
	}
	require.Error(t, run(context.Background(), config{mode: "peer"}), "no transactions")
}

func TestMBrainz(t *testing.T) {
	dir := sampledata.Path(t, "mbrainz")
	require.NoError(t, run(context.Background(), config{mbrainz: dir, dir: t.TempDir(), conc: 2, mode: "all"}))
}
