package dcbackup_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/dcbackup/dcbackup"
	"github.com/stretchr/testify/require"
)

func TestProgressAndLogging(t *testing.T) {
	ctx := context.Background()
	src := newSource(t, 70, 40, true)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var last dcbackup.Progress
	calls := 0
	store := dcbackup.NewMemStore()
	bk, err := dcbackup.Backup(ctx, "db", src, store, &dcbackup.BackupOptions{
		MaxTxPerSegment: 5, Logger: logger,
		Progress: func(p dcbackup.Progress) { last = p; calls++ },
	})
	require.NoError(t, err)
	require.Equal(t, bk.Segments, calls)
	require.Equal(t, "backup", last.Op)
	require.Equal(t, bk.Datoms, last.Datoms)
	require.Equal(t, bk.Transactions, last.Transactions)
	require.Equal(t, bk.Bytes, last.Bytes)
	require.Equal(t, bk.Segments, strings.Count(logs.String(), "segment written"))

	logs.Reset()
	calls = 0
	rs, err := dcbackup.Restore(ctx, "db", store, newTarget(), &dcbackup.RestoreOptions{
		Logger:   logger,
		Progress: func(p dcbackup.Progress) { last = p; calls++ },
	})
	require.NoError(t, err)
	require.Equal(t, rs.Segments, calls)
	require.Equal(t, "restore", last.Op)
	require.Equal(t, rs.Datoms, last.Datoms)
	require.Equal(t, rs.LastT, last.T)
	require.Equal(t, rs.Segments, strings.Count(logs.String(), "segment restored"))

	// Silent by default: no logger, no callback, no output anywhere.
	_, err = dcbackup.Restore(ctx, "db", store, newTarget(), nil)
	require.NoError(t, err)
}
