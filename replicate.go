package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// ReplicateOptions configures Replicate. The zero value is ready to use.
type ReplicateOptions struct {
	// Restore holds the restore options (filter, rewrites, stop point,
	// logger, progress) applied to every segment.
	Restore RestoreOptions
	// PollInterval is the pause between polls of the store once caught up
	// (default 5s), with ±20% jitter.
	PollInterval time.Duration
	// MaxBackoff caps the pause after consecutive transient errors, which
	// doubles from PollInterval (default 1 minute).
	MaxBackoff time.Duration
	// OnLag, if set, is called after every poll with how far the target is
	// behind the store.
	OnLag func(Lag)
	// MaxClockSkew is how long Replicate keeps retrying a transaction that
	// the target refuses as dated in the future (its clock is behind the
	// source's: :db.error/future-tx-instant) before it gives up with that
	// error (default 10 minutes).
	MaxClockSkew time.Duration
	// WaitForFirstBackup makes Replicate poll a store that holds no
	// segment of the database yet, with a Warn record each poll, instead of
	// returning ErrNoSegments (a mistyped name would otherwise poll
	// forever without a word).
	WaitForFirstBackup bool
}

// Lag says how far a replica is behind its backup.
type Lag struct {
	// StoreEndT is the end (exclusive) of the newest segment in the store:
	// every source t below it is backed up.
	StoreEndT int64
	// RestoredT is the last source t restored into the target (-1: none).
	RestoredT int64
	// Applied counts the transactions restored by this poll.
	Applied int
	// Err is the transient error of this poll, if any; Replicate retries.
	Err error
}

// CaughtUp reports that the target holds everything the store has.
func (l Lag) CaughtUp() bool { return l.Err == nil && l.StoreEndT <= l.RestoredT+1 }

// Replicate keeps target a replica of db's backup: it restores new segments
// as they appear in store, polling with backoff and jitter, until ctx ends
// (then it returns ctx's error) or the restore's stop point is reached
// (then nil). Transient failures (an unreachable store or target) are
// retried; anything else stops it with the error: a corrupt segment, a gap
// in the store, a target written to by someone else.
func Replicate(ctx context.Context, db string, store BackupStore, target datomic.Conn, opts *ReplicateOptions) error {
	if opts == nil {
		opts = &ReplicateOptions{}
	}
	bo := backoff{base: opts.PollInterval, max: opts.MaxBackoff}
	if bo.base <= 0 {
		bo.base = 5 * time.Second
	}
	if bo.max <= 0 {
		bo.max = time.Minute
	}
	log := loggerOrDiscard(opts.Restore.Logger).With("db", db)
	maxSkew := opts.MaxClockSkew
	if maxSkew <= 0 {
		maxSkew = 10 * time.Minute
	}
	var skewSince time.Time
	prog := newProgressReporter("replicate", opts.Restore.Progress)
	var prev *restorer
	for {
		res, r, err := replicateOnce(ctx, db, store, target, &opts.Restore, prev, prog)
		if r != nil {
			if err != nil {
				// After a failure the target may hold what this poll did
				// not record (a transaction applied, its answer lost): the
				// next poll reads the id mapping again.
				r.remap = nil
			}
			prev = r
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lag := Lag{RestoredT: res.LastT, Applied: res.Transactions, Err: err}
		if last, ok, lerr := store.Last(ctx, db); lerr == nil && ok {
			lag.StoreEndT = last.EndT
		} else if err == nil && lerr != nil {
			err, lag.Err = lerr, lerr
		}
		if opts.OnLag != nil {
			opts.OnLag(lag)
		}
		if !errors.Is(err, datomic.ErrFutureTxInstant) {
			skewSince = time.Time{}
		}
		var wait time.Duration
		switch {
		case errors.Is(err, datomic.ErrFutureTxInstant) && (skewSince.IsZero() || time.Since(skewSince) < maxSkew):
			if skewSince.IsZero() {
				skewSince = time.Now()
			}
			wait = bo.failed()
			log.Warn("replicate: the target's clock is behind the source's transaction instants; waiting for it",
				"err", err, "retry_in", wait, "waiting_since", skewSince)
		case errors.Is(err, ErrNoSegments) && opts.WaitForFirstBackup:
			wait = bo.idle()
			log.Warn("replicate: waiting for the store's first segment", "err", err, "retry_in", wait)
		case err != nil && !isTransient(err):
			return err
		case err != nil:
			wait = bo.failed()
			log.Warn("replicate: transient error, retrying", "err", err, "retry_in", wait)
		case res.Stopped:
			return nil
		default:
			wait = bo.idle()
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// replicateOnce restores what the store holds beyond the target, keeping
// from the previous poll's restorer its id mapping and where it listed
// from.
func replicateOnce(ctx context.Context, db string, store BackupStore, target datomic.Conn, opts *RestoreOptions, prev *restorer, prog *progressReporter) (RestoreResult, *restorer, error) {
	begin := time.Now()
	r, err := newRestorer(ctx, db, store, target, opts, prev)
	if err != nil {
		return RestoreResult{LastT: -1}, nil, err
	}
	if prev != nil {
		r.listHint = prev.lastSegStart
	}
	r.prog = prog // progress adds up over polls
	res, err := r.run(ctx, begin)
	if r.lastSegStart == 0 && prev != nil {
		r.lastSegStart = prev.lastSegStart
	}
	return res, r, err
}

// isTransient reports whether err may go away by itself: everything but
// what this package or the database reports as a definite problem.
func isTransient(err error) bool {
	for _, permanent := range []error{
		ErrCorruptSegment, ErrGap, ErrTargetNotEmpty, ErrTargetModified,
		ErrWrongDatabase, ErrBootstrapMismatch, ErrInvalidDBName,
		ErrNoSegments, ErrChainBroken, ErrSourceMismatch, ErrUnsupportedSegmentVersion,
		ErrSegmentTooLarge, ErrNoKey, ErrCannotRestore, ErrRenamedSince, errOptionFunc,
	} {
		if errors.Is(err, permanent) {
			return false
		}
	}
	var derr *datomic.Error
	if errors.As(err, &derr) {
		return derr.Retryable()
	}
	return true
}

// ContinuousBackupOptions configures ContinuousBackup. The zero value is
// ready to use.
type ContinuousBackupOptions struct {
	// Backup holds the backup options (segment size, logger, progress).
	Backup BackupOptions
	// Interval is the pause between backups once up to date (default 1
	// minute), with ±20% jitter.
	Interval time.Duration
	// MaxBackoff caps the pause after consecutive failures, which doubles
	// from Interval (default 10 minutes).
	MaxBackoff time.Duration
	// MaxFailures stops the loop with the last error after this many
	// consecutive failures (0: never stop).
	MaxFailures int
	// ScrubInterval is how often the loop checks the whole store instead
	// of only its newest segment: on its first run and then every
	// ScrubInterval it calls Backup, which reads every segment's header,
	// moves damaged segments aside and backs up every gap and damaged
	// range again (BackupResult.Healed); the other runs call BackupNext.
	// Default 1 hour; negative: only on the first run.
	ScrubInterval time.Duration
	// OnResult, if set, is called after every BackupNext call with its
	// result and error: the place to export metrics and raise alerts.
	OnResult func(BackupResult, error)
	// CompactInterval, when positive, runs Compact that often (and after
	// the first run), merging the small segments the loop writes; its
	// segment limits and encoding are Backup's. Default: never.
	CompactInterval time.Duration
	// OnCompact, if set, is called after every compaction.
	OnCompact func(CompactResult, error)
}

// ContinuousBackup backs db up into store until ctx ends: BackupNext as
// long as there is more, then a pause of Interval; on its first run and
// every ScrubInterval, a Backup that checks and heals the whole store.
// Failures are retried with backoff and reported through OnResult; a run of
// MaxFailures failures ends the loop with an error wrapping the last one. A
// source that does not continue the store (ErrSourceMismatch) is retried
// like any failure, so that OnResult keeps reporting it. It returns ctx's
// error when ctx ends.
func ContinuousBackup(ctx context.Context, db string, conn datomic.Conn, store BackupStore, opts *ContinuousBackupOptions) error {
	if opts == nil {
		opts = &ContinuousBackupOptions{}
	}
	bo := backoff{base: opts.Interval, max: opts.MaxBackoff}
	if bo.base <= 0 {
		bo.base = time.Minute
	}
	if bo.max <= 0 {
		bo.max = 10 * time.Minute
	}
	scrubEvery := opts.ScrubInterval
	if scrubEvery == 0 {
		scrubEvery = time.Hour
	}
	log := loggerOrDiscard(opts.Backup.Logger).With("db", db)
	failures := 0
	var lastScrub, lastCompact time.Time
	for {
		var res BackupResult
		var err error
		if lastScrub.IsZero() || (scrubEvery > 0 && time.Since(lastScrub) >= scrubEvery) {
			res, err = Backup(ctx, db, conn, store, &opts.Backup)
			if err == nil {
				lastScrub = time.Now()
				log.Info("store checked", "healed", res.Healed, "segments_written", res.Segments, "end_t", res.EndT)
			}
		} else {
			res, err = BackupNext(ctx, db, conn, store, &opts.Backup)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if opts.OnResult != nil {
			opts.OnResult(res, err)
		}
		var wait time.Duration
		switch {
		case err != nil:
			failures++
			if opts.MaxFailures > 0 && failures >= opts.MaxFailures {
				return fmt.Errorf("dcbackup: continuous backup %q: %d consecutive failures, last: %w", db, failures, err)
			}
			wait = bo.failed()
			log.Error("backup failed, retrying", "err", err, "failures", failures, "retry_in", wait)
		case res.More:
			failures = 0
			continue
		default:
			failures = 0
			wait = bo.idle()
			if opts.CompactInterval > 0 && time.Since(lastCompact) >= opts.CompactInterval {
				lastCompact = time.Now()
				b := &opts.Backup
				cr, cerr := Compact(ctx, db, store, &CompactOptions{MaxTxPerSegment: b.MaxTxPerSegment, MaxDatomsPerSegment: b.MaxDatomsPerSegment,
					Encode: b.Encode, Decode: b.Decode, Logger: b.Logger})
				if opts.OnCompact != nil {
					opts.OnCompact(cr, cerr)
				}
				if cerr != nil && ctx.Err() == nil {
					log.Warn("compaction failed; the next one will try again", "err", cerr)
				}
			}
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}
