package dcbackup

import (
	"errors"
	"fmt"
)

// More sentinel errors; see also store.go.
var (
	// ErrGap: the store lacks a segment for a range of t that a restore
	// needs. The error's text names the missing range; Repair fills it from
	// the source.
	ErrGap = errors.New("dcbackup: gap in the backup")
	// ErrTargetNotEmpty: the restore target holds data that no restore wrote.
	ErrTargetNotEmpty = errors.New("dcbackup: restore target is not empty")
	// ErrTargetModified: the restore target was written to by someone else
	// since the last restored transaction, or its marker disagrees with the
	// store.
	ErrTargetModified = errors.New("dcbackup: restore target was modified outside the restore")
	// ErrWrongDatabase: a segment belongs to another database than the one
	// asked for, or a restore target was restored from another database's
	// backup (or from a history that diverged from the store's; such an
	// error also matches ErrTargetModified).
	ErrWrongDatabase = errors.New("dcbackup: another database")
	// ErrBootstrapMismatch: a bootstrap ident of the source does not exist in the target.
	ErrBootstrapMismatch = errors.New("dcbackup: source bootstrap entity missing in target")
	// ErrSourceMismatch: the source is not the database the store backs
	// up: another database under the same name, or the same database with
	// a history that diverged from the store's (restored from an older
	// backup and written to, or deleted and created again). Nothing was
	// written. A *SourceMismatchError says what differed.
	ErrSourceMismatch = errors.New("dcbackup: source does not continue the backup in the store")
	// ErrNoSegments: the store holds no segment of the database: a
	// mistyped name, or a store not backed up yet.
	ErrNoSegments = errors.New("dcbackup: no segments of the database in the store")
	// ErrChainBroken: consecutive segments of a store do not continue one
	// another (a segment of another lineage under a plausible range, or of
	// a diverged history). Nothing of the segment was applied.
	ErrChainBroken = errors.New("dcbackup: segments do not continue one another")
)

// SourceMismatchError says why a source does not continue its backup. It
// matches ErrSourceMismatch.
type SourceMismatchError struct {
	DB string
	// Segment is the stored segment the source was compared with.
	Segment SegmentInfo
	// What says what differed, naming both sides.
	What string
}

// Error implements error.
func (e *SourceMismatchError) Error() string {
	return fmt.Sprintf("dcbackup: database %q: the source does not continue the backup (compared with segment %s): %s; nothing was written", e.DB, e.Segment, e.What)
}

// Is makes a SourceMismatchError match ErrSourceMismatch.
func (e *SourceMismatchError) Is(target error) bool { return target == ErrSourceMismatch }

// GapError reports a missing range of t in a store. It matches ErrGap.
type GapError struct {
	DB     string
	StartT int64 // first missing t
	EndT   int64 // first t covered again (exclusive end of the gap)
}

// Error implements error.
func (e *GapError) Error() string {
	return fmt.Sprintf("dcbackup: database %q: no segment covers t in [%d, %d); run Repair against the source to fill it", e.DB, e.StartT, e.EndT)
}

// Is makes a GapError match ErrGap.
func (e *GapError) Is(target error) bool { return target == ErrGap }

func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
