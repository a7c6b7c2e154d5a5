package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// Every entry of a database's directory whose name is a segment name is
// listed as a segment, whatever it is: a directory, a symbolic link or any
// other non-regular file in a segment's place cannot be loaded (Load fails
// with ErrCorruptSegment), so a restore stops there with an error instead of
// ending early, and Backup and Repair move it aside and back its range up
// again. Quarantined entries go to <dir>/.quarantine/<db>/.
//
// Segment files are created with mode FSOptions.FileMode (default 0644)
// and directories with FSOptions.DirMode (default 0755), before the umask.
//
// An FSStore holds no mutable state and is safe for concurrent use, also by
// several processes sharing the directory.
type FSStore struct {
	dir  string
	opts FSOptions
	// syncFile and syncDir make writes durable; tests replace them to
	// observe the order of durability steps.
	syncFile func(*os.File) error
	syncDir  func(dir string) error
}

// FSOptions tunes an FSStore. The zero value is ready to use.
type FSOptions struct {
	// FileMode is the permission of segment files (default 0644). Use 0600
	// (or 0640 with a group) to keep segments private to the backup's
	// user.
	FileMode os.FileMode
	// DirMode is the permission of the directories the store creates
	// (default 0755).
	DirMode os.FileMode
	// MaxSegmentSize bounds the size of a segment that Save accepts and
	// Load reads (default DefaultS3MaxSegmentSize, 1 GiB, as on S3): a
	// larger file under a segment's name is refused from its size, without
	// reading it (ErrSegmentTooLarge). A store check reads its header: a
	// sound one (written under a larger bound) is kept and reported
	// unreadable with this bound; anything else is damage, which Backup
	// and Repair move aside and back up again.
	MaxSegmentSize int64
}

func (o FSOptions) withDefaults() FSOptions {
	if o.FileMode == 0 {
		o.FileMode = 0o644
	}
	if o.DirMode == 0 {
		o.DirMode = 0o755
	}
	if o.MaxSegmentSize <= 0 {
		o.MaxSegmentSize = DefaultS3MaxSegmentSize
	}
	o.FileMode &= os.ModePerm
	o.DirMode &= os.ModePerm
	return o
}

var _ BackupStore = (*FSStore)(nil)

const fsTempPrefix = ".tmp-"

// NewFSStore returns a store rooted at dir with default options, creating
// dir if needed.
func NewFSStore(dir string) (*FSStore, error) {
	return NewFSStoreWithOptions(dir, FSOptions{})
}

// NewFSStoreWithOptions returns a store rooted at dir, creating dir if
// needed.
func NewFSStoreWithOptions(dir string, opts FSOptions) (*FSStore, error) {
	if dir == "" {
		return nil, errors.New("dcbackup: filesystem store: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: filesystem store %s: %w", dir, err)
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(abs, opts.DirMode); err != nil {
		return nil, fmt.Errorf("dcbackup: filesystem store: %w", err)
	}
	return &FSStore{dir: abs, opts: opts, syncFile: (*os.File).Sync, syncDir: syncDirectory}, nil
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
		return fmt.Errorf("dcbackup: save segment %s of database %q: %w", seg, db, err)
	}
	if err := s.save(ctx, db, seg, data); err != nil {
		return fmt.Errorf("dcbackup: save segment %s of database %q: %w", seg, db, err)
	}
	return nil
}

func (s *FSStore) save(ctx context.Context, db string, seg SegmentInfo, data []byte) (err error) {
	if int64(len(data)) > s.opts.MaxSegmentSize {
		return fmt.Errorf("%w: %d bytes, more than the store's maximum segment size %d", ErrSegmentTooLarge, len(data), s.opts.MaxSegmentSize)
	}
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
	if err := f.Chmod(s.opts.FileMode); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
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
	if err := s.syncFile(f); err != nil {
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
	return s.syncDir(dir)
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
	if err := os.Mkdir(dir, s.opts.DirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return s.syncDir(filepath.Dir(dir))
}

// syncDirectory makes the entries of dir durable.
func syncDirectory(dir string) error {
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
		return nil, fmt.Errorf("dcbackup: load segment %s of database %q: %w", seg, db, err)
	}
	data, err := s.read(db, seg, -1)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: load segment %s of database %q: %w", seg, db, err)
	}
	return data, nil
}

// LoadHead returns the first n bytes of segment seg of db; see HeadLoader.
func (s *FSStore) LoadHead(ctx context.Context, db string, seg SegmentInfo, n int) ([]byte, error) {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return nil, fmt.Errorf("dcbackup: load segment %s of database %q: %w", seg, db, err)
	}
	data, err := s.read(db, seg, max(n, 0))
	if err != nil {
		return nil, fmt.Errorf("dcbackup: load segment %s of database %q: %w", seg, db, err)
	}
	return data, nil
}

// read returns the segment's bytes, at most limit of them (all when limit
// is negative). Only a regular file is a segment.
func (s *FSStore) read(db string, seg SegmentInfo, limit int) ([]byte, error) {
	path := s.Path(db, seg)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrSegmentNotFound
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is a %s, not a regular file", ErrCorruptSegment, path, fileKind(fi.Mode()))
	}
	if limit < 0 {
		if fi.Size() > s.opts.MaxSegmentSize {
			return nil, fmt.Errorf("%w: %s is %d bytes, more than the store's maximum segment size %d", ErrSegmentTooLarge, path, fi.Size(), s.opts.MaxSegmentSize)
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrSegmentNotFound
		}
		return data, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrSegmentNotFound
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, min(int64(limit), fi.Size()))
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return buf[:n], err
}

// fileKind names what a non-regular file is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "non-regular file"
}

// List returns the segments of db with StartT >= fromT, sorted by StartT
// (then EndT), with their sizes.
func (s *FSStore) List(ctx context.Context, db string, fromT int64) ([]SegmentInfo, error) {
	if err := checkDBArgs(ctx, db); err != nil {
		return nil, fmt.Errorf("dcbackup: list segments of database %q: %w", db, err)
	}
	entries, err := s.readDir(db)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: list segments of database %q: %w", db, err)
	}
	var out []SegmentInfo
	for i, e := range entries {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("dcbackup: list segments of database %q: %w", db, err)
			}
		}
		seg, ok := ParseSegmentFileName(e.Name())
		if !ok || seg.StartT < fromT {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("dcbackup: list segments of database %q: %w", db, err)
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
		return SegmentInfo{}, false, fmt.Errorf("dcbackup: find the last segment of database %q: %w", db, err)
	}
	entries, err := s.readDir(db)
	if err != nil {
		return SegmentInfo{}, false, fmt.Errorf("dcbackup: find the last segment of database %q: %w", db, err)
	}
	// os.ReadDir sorts by name, and names sort by (StartT, EndT).
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		seg, ok := ParseSegmentFileName(e.Name())
		if !ok {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return SegmentInfo{}, false, fmt.Errorf("dcbackup: find the last segment of database %q: %w", db, err)
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
