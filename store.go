package dcbackup

import (
	"context"
	"errors"
	"fmt"
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
	ErrSegmentExists = errors.New("dcbackup: segment already exists")
	// ErrSegmentNotFound: no segment with that range is stored.
	ErrSegmentNotFound = errors.New("dcbackup: segment not found")
	// ErrCorruptSegment: stored bytes fail their checksum or do not decode.
	ErrCorruptSegment = errors.New("dcbackup: corrupt segment")
	// ErrInvalidDBName: a database name a store cannot keep apart safely.
	ErrInvalidDBName = errors.New("dcbackup: invalid database name")
)
