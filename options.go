package dcbackup

import (
	"context"
	"log/slog"
)

// discardLogger returns l, or a logger that drops everything when l is nil.
func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// ctxErr returns ctx's error wrapped with what was being done.
func ctxErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return wrapf(err, "%s", what)
	}
	return nil
}
