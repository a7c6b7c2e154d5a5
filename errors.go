package dcbackup

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// More sentinel errors; see also store.go.
var (
	// ErrGap: the store lacks a segment for a range of t that a restore
	// needs. The error's text names the missing range; Repair fills it from
	// the source.
	ErrGap = errors.New("gap in the backup")
	// ErrTargetNotEmpty: the restore target holds data that no restore wrote.
	ErrTargetNotEmpty = errors.New("restore target is not empty")
	// ErrTargetModified: the restore target was written to by someone else
	// since the last restored transaction, or its marker disagrees with the
	// store.
	ErrTargetModified = errors.New("restore target was modified outside the restore")
	// ErrWrongDatabase: a segment belongs to another database than the one
	// asked for, or a restore target was restored from another database's
	// backup (or from a history that diverged from the store's; such an
	// error also matches ErrTargetModified).
	ErrWrongDatabase = errors.New("another database")
	// ErrBootstrapMismatch: a bootstrap ident of the source does not exist in the target.
	ErrBootstrapMismatch = errors.New("source bootstrap entity missing in target")
	// ErrSourceMismatch: the source is not the database the store backs
	// up: another database under the same name, or the same database with
	// a history that diverged from the store's (restored from an older
	// backup and written to, or deleted and created again). Nothing was
	// written. A *SourceMismatchError says what differed.
	ErrSourceMismatch = errors.New("source does not continue the backup in the store")
	// ErrNoSegments: the store holds no segment of the database: a
	// mistyped name, or a store not backed up yet.
	ErrNoSegments = errors.New("no segments of the database")
	// ErrChainBroken: consecutive segments of a store do not continue one
	// another (a segment of another lineage under a plausible range, or of
	// a diverged history). Nothing of the segment was applied.
	ErrChainBroken = errors.New("segments do not continue one another")
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

// ErrRenamedSince: a restore continuing an earlier one finds an
// attribute renamed in the source since, which its Filter, Rewrite or
// ElideAttributes treat differently under the old and the new ident: what
// the target receives of that attribute would change midway. Nothing of
// the transaction is applied.
var ErrRenamedSince = errors.New("options name a renamed attribute by one of its idents only")

// errOptionFunc marks the failure of a function the caller gave in the
// options (a Rewrite): it will fail again, so a loop does not retry it.
var errOptionFunc = errors.New("rewrite")

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

// callError is the error of a call (backup, restore, ...) of database db:
// it names the call and the database once, and states what the errors it
// wraps say without repeating the prefix or the database.
type callError struct {
	op, db string
	err    error
}

// newCallError wraps err as the error of call op of database db, unless
// err names the database itself (a *SourceMismatchError, *GapError or
// *CannotRestoreError).
func newCallError(op, db string, err error) error {
	var sm *SourceMismatchError
	var ge *GapError
	var cr *CannotRestoreError
	if errors.As(err, &sm) || errors.As(err, &ge) || errors.As(err, &cr) {
		return err
	}
	return &callError{op: op, db: db, err: err}
}

// Error implements error.
func (e *callError) Error() string {
	inner := strings.ReplaceAll(e.err.Error(), "dcbackup: ", "")
	q := strconv.Quote(e.db)
	inner = strings.ReplaceAll(inner, " of database "+q, "")
	inner = strings.ReplaceAll(inner, "database "+q+": ", "")
	inner = strings.ReplaceAll(inner, ErrInvalidDBName.Error()+": "+q, ErrInvalidDBName.Error())
	return "dcbackup: " + e.op + " " + q + ": " + inner
}

// Unwrap returns the cause.
func (e *callError) Unwrap() error { return e.err }

// segmentError adds seg to err, unless err names it already.
func segmentError(seg SegmentInfo, err error) error {
	if strings.Contains(err.Error(), seg.String()) {
		return err
	}
	return fmt.Errorf("segment %s: %w", seg, err)
}
