package edn

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is.
var (
	// ErrSyntax matches every *SyntaxError.
	ErrSyntax = errors.New("edn: syntax error")
	// ErrTxData matches errors of malformed transaction data found by the
	// converter.
	ErrTxData = errors.New("edn: invalid transaction data")
	// ErrUnsupported matches transaction data the converter understands but
	// cannot turn into operations, such as #db/fn values or calls of
	// transaction functions other than the built-in ones.
	ErrUnsupported = errors.New("edn: unsupported transaction data")
)

// SyntaxError reports malformed EDN and where it was found.
type SyntaxError struct {
	// Line and Column (1-based; the column counts bytes) locate the start of
	// the offending token or, for truncated input, the end of the input.
	Line, Column int
	// Offset is the byte offset from the start of the input.
	Offset int64
	// Msg says what is wrong.
	Msg string
	// Err is an underlying cause, such as io.ErrUnexpectedEOF.
	Err error
}

// Error implements error.
func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("edn: line %d, column %d: %s", e.Line, e.Column, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *SyntaxError) Unwrap() error { return e.Err }

// Is makes every SyntaxError match [ErrSyntax].
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }
