package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

var _ SegmentRemover = (*FSStore)(nil)

// Quarantine moves whatever occupies segment seg's name in db's directory
// (a damaged segment, a directory, a link) to
// <dir>/.quarantine/<db>/<name>.<UTC time> and returns that path; see
// SegmentRemover.
func (s *FSStore) Quarantine(ctx context.Context, db string, seg SegmentInfo) (string, error) {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return "", fmt.Errorf("dcbackup: quarantine segment %s of database %q: %w", seg, db, err)
	}
	to, err := s.quarantine(db, seg)
	if err != nil {
		return "", fmt.Errorf("dcbackup: quarantine segment %s of database %q: %w", seg, db, err)
	}
	return to, nil
}

func (s *FSStore) quarantine(db string, seg SegmentInfo) (string, error) {
	from := s.Path(db, seg)
	if _, err := os.Lstat(from); errors.Is(err, fs.ErrNotExist) {
		return "", ErrSegmentNotFound
	}
	qdir := filepath.Join(s.dir, QuarantineDir, db)
	if err := os.MkdirAll(qdir, s.opts.DirMode); err != nil {
		return "", err
	}
	to := filepath.Join(qdir, quarantineName(seg, time.Now()))
	if err := os.Rename(from, to); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", ErrSegmentNotFound
		}
		return "", err
	}
	if err := s.syncDir(filepath.Dir(from)); err != nil {
		return to, err
	}
	return to, s.syncDir(qdir)
}

// Delete removes segment seg of db; see SegmentRemover. Only a regular
// file is removed: anything else in a segment's place is quarantined.
func (s *FSStore) Delete(ctx context.Context, db string, seg SegmentInfo) error {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return fmt.Errorf("dcbackup: delete segment %s of database %q: %w", seg, db, err)
	}
	path := s.Path(db, seg)
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("dcbackup: delete segment %s of database %q: %w", seg, db, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("dcbackup: delete segment %s of database %q: %s is a %s; quarantine it instead", seg, db, path, fileKind(fi.Mode()))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dcbackup: delete segment %s of database %q: %w", seg, db, err)
	}
	if err := s.syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("dcbackup: delete segment %s of database %q: %w", seg, db, err)
	}
	return nil
}
