package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RemoveStaleTemp removes the temporary files of db that a Save interrupted
// by a crash left behind, if they were last modified more than olderThan
// ago, and returns how many it removed. olderThan must exceed the longest
// Save that may still be running (an hour is plenty); segments are never
// touched.
func (s *FSStore) RemoveStaleTemp(ctx context.Context, db string, olderThan time.Duration) (int, error) {
	if err := checkDBArgs(ctx, db); err != nil {
		return 0, fmt.Errorf("dcbackup: clean temporary files of database %q: %w", db, err)
	}
	entries, err := s.readDir(db)
	if err != nil {
		return 0, fmt.Errorf("dcbackup: clean temporary files of database %q: %w", db, err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("dcbackup: clean temporary files of database %q: %w", db, err)
		}
		if !strings.HasPrefix(e.Name(), fsTempPrefix) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("dcbackup: clean temporary files of database %q: %w", db, err)
		}
		if !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, db, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("dcbackup: clean temporary files of database %q: %w", db, err)
		}
		removed++
	}
	return removed, nil
}
