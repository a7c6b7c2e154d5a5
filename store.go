package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SegmentInfo identifies one stored segment of a database: the half-open
// range [StartT, EndT) of source basis t values it covers, and its size in
// bytes as stored (0 when not known).
type SegmentInfo struct {
	StartT int64
	EndT   int64
	Size   int64
}

// String formats the range as [start, end).
func (s SegmentInfo) String() string { return fmt.Sprintf("[%d, %d)", s.StartT, s.EndT) }

// BackupStore keeps the segments of any number of databases. Every
// implementation is safe for concurrent use, keeps databases apart, and is
// atomic: a reader never sees a partial segment.
type BackupStore interface {
	// Save stores data as segment seg of database db. It never overwrites:
	// if a segment with the same range exists it returns an error matching
	// ErrSegmentExists. Save returns nil only once the segment is durably
	// stored.
	Save(ctx context.Context, db string, seg SegmentInfo, data []byte) error
	// Load returns the stored bytes of segment seg (StartT and EndT are
	// used), or an error matching ErrSegmentNotFound.
	Load(ctx context.Context, db string, seg SegmentInfo) ([]byte, error)
	// List returns the segments of db whose StartT >= fromT, sorted by StartT.
	List(ctx context.Context, db string, fromT int64) ([]SegmentInfo, error)
	// Last returns the segment of db with the greatest StartT; ok is false
	// when db has no segment.
	Last(ctx context.Context, db string) (seg SegmentInfo, ok bool, err error)
}

// Sentinel errors of stores, backup and restore. Errors returned by this
// package wrap them with context; test with errors.Is.
var (
	// ErrSegmentExists: a segment with the same range is already stored.
	ErrSegmentExists = errors.New("segment already exists")
	// ErrSegmentNotFound: no segment with that range is stored.
	ErrSegmentNotFound = errors.New("segment not found")
	// ErrCorruptSegment: stored bytes fail their checksum or do not decode.
	ErrCorruptSegment = errors.New("corrupt segment")
	// ErrInvalidDBName: a database name a store cannot keep apart safely.
	ErrInvalidDBName = errors.New("invalid database name")
)

// HeadLoader is implemented by stores that can read the beginning of a
// segment without the rest (a ranged read). Checks that need only segment
// headers (DecodeSegmentHeader) use it and fall back to Load otherwise.
type HeadLoader interface {
	// LoadHead returns the first n bytes of segment seg of db (all of it
	// when it is shorter), or an error matching ErrSegmentNotFound.
	LoadHead(ctx context.Context, db string, seg SegmentInfo, n int) ([]byte, error)
}

// SegmentRemover is implemented by stores that can take segments out of
// their listing. Healing a store moves damaged segments aside before it
// backs their range up again; compaction deletes the segments a merged
// segment replaces. Backup and restore work with stores that lack it,
// but cannot heal a damaged segment or compact.
type SegmentRemover interface {
	// Quarantine moves segment seg of db (or whatever occupies its name)
	// out of the listing, keeping its bytes for inspection, and returns
	// where it went. A segment that is already gone matches
	// ErrSegmentNotFound.
	Quarantine(ctx context.Context, db string, seg SegmentInfo) (string, error)
	// Delete removes segment seg of db. Deleting a segment that is already
	// gone is not an error.
	Delete(ctx context.Context, db string, seg SegmentInfo) error
}

// BatchRemover is implemented by stores that delete many segments in a
// few requests (S3's DeleteObjects takes 1,000 keys per request). Compact
// deletes through it when the store has it, SegmentRemover.Delete one
// segment at a time otherwise.
type BatchRemover interface {
	// DeleteSegments removes the segments segs of db; those already gone
	// are not an error.
	DeleteSegments(ctx context.Context, db string, segs []SegmentInfo) error
}

// QuarantineDir is the directory (filesystem store) or key prefix (S3
// store), beside the databases, where quarantined segments are kept, as
// "<QuarantineDir>/<db>/<segment name>.<UTC time>". No database name can
// equal it (names start with a letter or digit).
const QuarantineDir = ".quarantine"

// quarantineName is the name a segment gets in quarantine.
func quarantineName(seg SegmentInfo, now time.Time) string {
	return SegmentFileName(seg) + "." + now.UTC().Format("20060102T150405.000000000Z")
}
