package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FSStore is a BackupStore in a directory of the local filesystem. Segment
// seg of database db is the file <dir>/<db>/<SegmentFileName(seg)>, so a
// plain directory listing sorts by t.
//
// Save writes a temporary file (named with the prefix ".tmp-", which
// listings skip) in the database's directory, fsyncs it, publishes it with
// a hard link (which never replaces an existing file, so two writers racing
// for one segment cannot overwrite each other), removes the temporary name
// and fsyncs the directory. The filesystem must support hard links. Files
// that do not look like segments are ignored.
//
// An FSStore holds no mutable state and is safe for concurrent use, also by
// several processes sharing the directory.
type FSStore struct {
	dir string
}

var _ BackupStore = (*FSStore)(nil)

const fsTempPrefix = ".tmp-"

// NewFSStore returns a store rooted at dir, creating dir if needed.
func NewFSStore(dir string) (*FSStore, error) {
	if dir == "" {
		return nil, errors.New("dcbackup: filesystem store: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: filesystem store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("dcbackup: filesystem store: %w", err)
	}
	return &FSStore{dir: abs}, nil
}

// Dir returns the store's root directory.
func (s *FSStore) Dir() string { return s.dir }

// Path returns the file that holds (or would hold) segment seg of db.
func (s *FSStore) Path(db string, seg SegmentInfo) string {
	return filepath.Join(s.dir, db, SegmentFileName(seg))
}

// Save stores data as segment seg of db; see BackupStore.Save and FSStore.
func (s *FSStore) Save(ctx context.Context, db string, seg SegmentInfo, data []byte) error {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return fmt.Errorf("dcbackup: save %s segment %s: %w", db, seg, err)
	}
	if err := s.save(ctx, db, seg, data); err != nil {
		return fmt.Errorf("dcbackup: save %s segment %s: %w", db, seg, err)
	}
	return nil
}

func (s *FSStore) save(ctx context.Context, db string, seg SegmentInfo, data []byte) (err error) {
	dir := filepath.Join(s.dir, db)
	if err := s.ensureDBDir(dir); err != nil {
		return err
	}
	final := filepath.Join(dir, SegmentFileName(seg))
	if _, err := os.Lstat(final); err == nil {
		return ErrSegmentExists
	}
	f, err := os.CreateTemp(dir, fsTempPrefix+SegmentFileName(seg)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			_ = f.Close()
		}
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return cerr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Link(tmp, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrSegmentExists
		}
		return err
	}
	// The segment is published. Drop the temporary name (a failure only
	// leaves a file for RemoveStaleTemp) and make the link durable.
	_ = os.Remove(tmp)
	return syncDir(dir)
}

// ensureDBDir creates the database's directory if needed and makes its
// creation durable.
func (s *FSStore) ensureDBDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("sync directory %s: %w", dir, serr)
	}
	return cerr
}

// Load returns the bytes of segment seg of db; see BackupStore.Load.
func (s *FSStore) Load(ctx context.Context, db string, seg SegmentInfo) ([]byte, error) {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return nil, fmt.Errorf("dcbackup: load %s segment %s: %w", db, seg, err)
	}
	data, err := os.ReadFile(s.Path(db, seg))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrSegmentNotFound
		}
		return nil, fmt.Errorf("dcbackup: load %s segment %s: %w", db, seg, err)
	}
	return data, nil
}

// List returns the segments of db with StartT >= fromT, sorted by StartT
// (then EndT), with their sizes.
func (s *FSStore) List(ctx context.Context, db string, fromT int64) ([]SegmentInfo, error) {
	if err := checkDBArgs(ctx, db); err != nil {
		return nil, fmt.Errorf("dcbackup: list %s: %w", db, err)
	}
	entries, err := s.readDir(db)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: list %s: %w", db, err)
	}
	var out []SegmentInfo
	for i, e := range entries {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("dcbackup: list %s: %w", db, err)
			}
		}
		seg, ok := ParseSegmentFileName(e.Name())
		if !ok || seg.StartT < fromT || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("dcbackup: list %s: %w", db, err)
		}
		seg.Size = fi.Size()
		out = append(out, seg)
	}
	sortSegmentInfos(out)
	return out, nil
}

// Last returns the segment of db with the greatest StartT (then EndT). It
// reads the directory's names and stats only the last segment.
func (s *FSStore) Last(ctx context.Context, db string) (SegmentInfo, bool, error) {
	if err := checkDBArgs(ctx, db); err != nil {
		return SegmentInfo{}, false, fmt.Errorf("dcbackup: last %s: %w", db, err)
	}
	entries, err := s.readDir(db)
	if err != nil {
		return SegmentInfo{}, false, fmt.Errorf("dcbackup: last %s: %w", db, err)
	}
	// os.ReadDir sorts by name, and names sort by (StartT, EndT).
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		seg, ok := ParseSegmentFileName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return SegmentInfo{}, false, fmt.Errorf("dcbackup: last %s: %w", db, err)
		}
		seg.Size = fi.Size()
		return seg, true, nil
	}
	return SegmentInfo{}, false, nil
}

// readDir lists the database's directory; a missing directory is empty.
func (s *FSStore) readDir(db string) ([]os.DirEntry, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, db))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return entries, err
}
