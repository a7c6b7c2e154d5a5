package dcbackup

import "log/slog"

// loggerOrDiscard returns l, or a logger that drops everything when l is
// nil.
func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
