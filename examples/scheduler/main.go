// Command scheduler shows how a service runs dcbackup for months: a
// continuous backup of a live database into a store, and a standby replica
// that follows the store, each in its own goroutine, with progress on the
// terminal and structured logs through log/slog.
//
// Here the live database is an in-memory Datomic that a writer keeps
// changing; in a service it would be a datomic/peer connection.
//
//	go run ./examples/scheduler [-for 10s] [-dir DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/histgen"
)

func main() {
	runFor := flag.Duration("for", 10*time.Second, "how long to run")
	dir := flag.String("dir", "", "backup directory (default: a temporary one, removed at the end)")
	verbose := flag.Bool("v", false, "log every segment")
	flag.Parse()
	if err := run(*runFor, *dir, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "scheduler:", err)
		os.Exit(1)
	}
}

func run(runFor time.Duration, dir string, verbose bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, runFor)
	defer cancel()

	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

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
	gen, err := histgen.New(ctx, source, histgen.Config{Seed: uint64(time.Now().UnixNano())})
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	var backupErr, replicaErr error
	wg.Add(3)
	// The application keeps writing.
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if _, err := gen.Run(ctx, 20); err != nil && ctx.Err() == nil {
				logger.Error("writer", "err", err)
			}
			_ = sleepCtx(ctx, 50*time.Millisecond)
		}
	}()
	// Backup: every second here; every minute is typical.
	go func() {
		defer wg.Done()
		backupErr = dcbackup.ContinuousBackup(ctx, "orders", source, store, &dcbackup.ContinuousBackupOptions{
			Interval: time.Second,
			Backup:   dcbackup.BackupOptions{Logger: logger},
			OnResult: func(r dcbackup.BackupResult, err error) {
				if err != nil {
					logger.Error("backup failed", "err", err) // alert here
				}
			},
		})
	}()
	// Standby: follows the store and reports its lag.
	go func() {
		defer wg.Done()
		replicaErr = dcbackup.Replicate(ctx, "orders", store, standby, &dcbackup.ReplicateOptions{
			PollInterval: 500 * time.Millisecond,
			Restore: dcbackup.RestoreOptions{
				Logger: logger,
				Progress: func(p dcbackup.Progress) {
					fmt.Fprintf(os.Stderr, "\rstandby: %d txs, %d datoms restored, source t %d   ",
						p.Transactions, p.Datoms, p.T)
				},
			},
			OnLag: func(l dcbackup.Lag) {
				if !l.CaughtUp() {
					logger.Debug("standby behind", "store_end_t", l.StoreEndT, "restored_t", l.RestoredT)
				}
			},
		})
	}()
	wg.Wait()
	fmt.Fprintln(os.Stderr)
	if !isDone(backupErr) || !isDone(replicaErr) {
		return fmt.Errorf("backup: %v; standby: %v", backupErr, replicaErr)
	}

	// Final catch-up and a check, as a drill would do.
	final := context.Background()
	for {
		r, err := dcbackup.BackupNext(final, "orders", source, store, nil)
		if err != nil {
			return err
		}
		if !r.More {
			break
		}
	}
	if _, err := dcbackup.Restore(final, "orders", store, standby, nil); err != nil {
		return err
	}
	rep, err := dcbackup.Verify(final, source, standby, nil)
	if err != nil {
		return err
	}
	segs, _ := store.List(final, "orders", 0)
	fmt.Printf("ran %s: %d segments, standby verified identical over %d transactions and %d datoms: %v\n",
		runFor, len(segs), rep.Transactions, rep.Datoms, rep.OK())
	if !rep.OK() {
		return fmt.Errorf("differences: %v", rep.Differences)
	}
	return nil
}

func isDone(err error) bool {
	return err == nil || err == context.DeadlineExceeded || err == context.Canceled
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
