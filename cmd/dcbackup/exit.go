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
	case errors.Is(err, errUnhealthy), errors.Is(err, dcbackup.ErrCorruptSegment),
		errors.Is(err, dcbackup.ErrUnsupportedSegmentVersion), errors.Is(err, dcbackup.ErrSegmentTooLarge):
		return exitUnhealthy
	}
	return exitError
}
