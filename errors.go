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
	// ErrWrongDatabase: a segment belongs to another database than the one asked for.
	ErrWrongDatabase = errors.New("dcbackup: segment of another database")
	// ErrBootstrapMismatch: a bootstrap ident of the source does not exist in the target.
	ErrBootstrapMismatch = errors.New("dcbackup: source bootstrap entity missing in target")
)

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
