package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/internal/sampledata"
)

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

func TestMBrainz(t *testing.T) {
	dir := sampledata.Path(t, "mbrainz")
	require.NoError(t, run(context.Background(), config{mbrainz: dir, dir: t.TempDir(), conc: 2, mode: "all"}))
}
