package client

import (
	"log/slog"
	"time"
)

const (
	levelDebug = slog.LevelDebug
	levelWarn  = slog.LevelWarn
)

func attrOp(op string) slog.Attr             { return slog.String("op", op) }
func attrErr(err error) slog.Attr            { return slog.String("err", err.Error()) }
func attrDelay(d time.Duration) slog.Attr    { return slog.Duration("delay", d) }
func attrStatus(code int) slog.Attr          { return slog.Int("status", code) }
func attrBytes(n int) slog.Attr              { return slog.Int("bytes", n) }
func attrDuration(d time.Duration) slog.Attr { return slog.Duration("duration", d) }
