package cloud

import "log/slog"

const slogWarn = slog.LevelWarn

func attrOp(op string) slog.Attr  { return slog.String("op", op) }
func attrErr(err error) slog.Attr { return slog.String("err", err.Error()) }

const slogDebug = slog.LevelDebug

func attrAuthPath(p string) slog.Attr { return slog.String("s3_auth_path", p) }
