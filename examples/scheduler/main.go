// Command scheduler shows how a service runs dcbackup for months: a
// continuous backup of a live database into a store, and a standby replica
// that follows the store, each in its own goroutine, reporting through
// log/slog (structured records on stderr; -v adds one per segment).
//
// Here the live database is an in-memory Datomic that a small order
// system (app.go) keeps changing; in a service it would be a
// datomic/peer connection, and the store an S3 bucket.
//
//	go run ./examples/scheduler [-for 10s] [-dir DIR] [-v]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

func main() {
	runFor := flag.Duration("for", 10*time.Second, "how long to run")
	dir := flag.String("dir", "", "backup directory (default: a temporary one, removed at the end)")
	verbose := flag.Bool("v", false, "also log every segment written and restored")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, logger, *runFor, *dir); err != nil {
		logger.Error("scheduler failed", "err", err)
		os.Exit(1)
	}
}

// The intervals of this demonstration; a service would back up every
// minute and poll every few seconds.
const (
	backupInterval = time.Second
	pollInterval   = 500 * time.Millisecond
	writeEvery     = 5 * time.Millisecond
)

// run keeps a database changing for runFor while it is backed up into
// dir and replicated into a standby, then catches up, verifies the
// standby and prints the outcome on w.
func run(ctx context.Context, w io.Writer, logger *slog.Logger, runFor time.Duration, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "dcbackup-scheduler-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	store, err := dcbackup.NewFSStore(dir)
	if err != nil {
		return err
	}
	source := mem.New(mem.Options{SharedCounter: true})
	standby := mem.New(mem.Options{})
	application, err := newApp(ctx, source, uint64(time.Now().UnixNano()))
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithTimeout(ctx, runFor)
	defer cancel()
	var wg sync.WaitGroup
	var writeErr, backupErr, replicaErr error
	// The application keeps writing.
	wg.Go(func() {
		tick := time.NewTicker(writeEvery)
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
			}
			if err := application.step(runCtx); err != nil && runCtx.Err() == nil {
				writeErr = err
				cancel()
				return
			}
		}
	})
	// Backup: BackupNext while there is more, then a pause.
	wg.Go(func() {
		backupErr = dcbackup.ContinuousBackup(runCtx, "orders", source, store, &dcbackup.ContinuousBackupOptions{
			Interval: backupInterval,
			Backup:   dcbackup.BackupOptions{Logger: logger},
			OnResult: func(r dcbackup.BackupResult, err error) {
				switch {
				case err != nil:
					// ContinuousBackup retries with backoff: alert here.
					logger.Error("backup failed", "err", err)
				case r.Segments > 0:
					logger.Info("backed up", "segments", r.Segments, "transactions", r.Transactions,
						"datoms", r.Datoms, "bytes", r.Bytes, "end_t", r.EndT, "more", r.More)
				}
			},
		})
	})
	// Standby: follows the store and reports its lag. It starts with the
	// backup, so it waits for the first segment; transient errors are
	// retried and logged by Replicate itself.
	wg.Go(func() {
		replicaErr = dcbackup.Replicate(runCtx, "orders", store, standby, &dcbackup.ReplicateOptions{
			PollInterval:       pollInterval,
			WaitForFirstBackup: true,
			Restore:            dcbackup.RestoreOptions{Logger: logger},
			OnLag: func(l dcbackup.Lag) {
				if l.Applied > 0 {
					logger.Info("standby restored", "transactions", l.Applied, "restored_t", l.RestoredT,
						"store_end_t", l.StoreEndT, "caught_up", l.CaughtUp())
				}
			},
		})
	})
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err // interrupted
	}
	if err := errors.Join(writeErr, stopped(backupErr), stopped(replicaErr)); err != nil {
		return err
	}

	// Final catch-up and a check, as a restore drill would do.
	for {
		r, err := dcbackup.BackupNext(ctx, "orders", source, store, nil)
		if err != nil {
			return err
		}
		if !r.More {
			break
		}
	}
	if _, err := dcbackup.Restore(ctx, "orders", store, standby, nil); err != nil {
		return err
	}
	rep, err := dcbackup.Verify(ctx, source, standby, nil)
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("standby differs from the source: %v", rep.Differences)
	}
	segs, err := store.List(ctx, "orders", 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "ran %s: %d segments; standby verified identical over %d transactions and %d datoms\n",
		runFor, len(segs), rep.Transactions, rep.Datoms)
	return nil
}

// stopped returns nil for the error a loop returns when its context ends.
func stopped(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
