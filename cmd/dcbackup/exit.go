package main

import (
	"errors"
	"fmt"

	"github.com/dcbackup/dcbackup"
)

// errUnhealthy marks errors that mean the backup is damaged (exit 1)
// rather than that the command could not run (exit 2).
var errUnhealthy = errors.New("backup is unhealthy")

// unhealthyError is a finding about the backup; it matches errUnhealthy
// and whatever its cause matches.
type unhealthyError struct{ err error }

func (e *unhealthyError) Error() string   { return e.err.Error() }
func (e *unhealthyError) Unwrap() []error { return []error{e.err, errUnhealthy} }

// unhealthy formats an unhealthyError.
func unhealthy(format string, a ...any) error { return &unhealthyError{fmt.Errorf(format, a...)} }

// exitCode maps an error to the exit status.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUnhealthy), errors.Is(err, dcbackup.ErrCorruptSegment), errors.Is(err, dcbackup.ErrNoSegments),
		errors.Is(err, dcbackup.ErrUnsupportedSegmentVersion), errors.Is(err, dcbackup.ErrSegmentTooLarge):
		return exitUnhealthy
	}
	return exitError
}

// noSegmentsHint says that a database has no segments, and what to check;
// every command says it the same way.
func noSegmentsHint(db, where string) string {
	return fmt.Sprintf("no segments of database %q in %s (is -db right? has it been backed up?)", db, where)
}

// noSegments is the finding of a database without segments: an unhealthy
// backup (exit 1) that matches dcbackup.ErrNoSegments.
func noSegments(db, where string) error {
	return &unhealthyError{&textError{noSegmentsHint(db, where), dcbackup.ErrNoSegments}}
}

// noDatabases is the finding of a store without databases (exit 1).
func noDatabases(where string) error {
	return unhealthy("no databases in %s (is -store right?)", where)
}

// textError is an error with its own text that matches err.
type textError struct {
	text string
	err  error
}

func (e *textError) Error() string { return e.text }
func (e *textError) Unwrap() error { return e.err }
