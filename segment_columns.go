package dcbackup

import (
	"encoding/binary"
	"fmt"
)

// corruptf returns an error matching ErrCorruptSegment.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptSegment}, args...)...)
}

// invalidf returns an error matching ErrInvalidSegment.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSegment}, args...)...)
}

// tooLargef returns an error matching ErrSegmentTooLarge.
func tooLargef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSegmentTooLarge}, args...)...)
}

func unsupportedVersion(v byte) error {
	return fmt.Errorf("%w: version %d, this reader supports up to %d; upgrade dcbackup to read it",
		ErrUnsupportedSegmentVersion, v, SegmentFormatVersion)
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func appendUvarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return binary.AppendUvarint(b, v)
}

func appendVarint(b []byte, v int64) []byte { return appendUvarint(b, zigzag(v)) }

// colReader reads varints from a byte column. Errors are sticky: after a
// malformed or short read, bad is set and every read returns zero, so hot
// loops check once per transaction.
type colReader struct {
	b   []byte
	i   int
	bad bool
}

func (r *colReader) uvarint() uint64 {
	if r.i < len(r.b) {
		if c := r.b[r.i]; c < 0x80 {
			r.i++
			return uint64(c)
		}
	}
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		r.bad = true
		r.i = len(r.b)
		return 0
	}
	r.i += n
	return v
}

func (r *colReader) varint() int64 { return unzigzag(r.uvarint()) }

func (r *colReader) done() bool { return !r.bad && r.i == len(r.b) }

// strReader reads raw bytes from the value byte column, kept as one string
// so that string values are substrings of it without a copy each.
type strReader struct {
	s   string
	b   []byte // the same bytes as s
	i   int
	bad bool
}

// span advances over the next n bytes and returns their offsets.
func (r *strReader) span(n uint64) (int, int) {
	if n > uint64(len(r.s)-r.i) {
		r.bad = true
		r.i = len(r.s)
		return 0, 0
	}
	i := r.i
	r.i += int(n)
	return i, r.i
}

// take returns the next n bytes as a string sharing the column's memory.
func (r *strReader) take(n uint64) string {
	i, j := r.span(n)
	return r.s[i:j]
}

// takeBytes returns the next n bytes, a view of the column (not a copy).
func (r *strReader) takeBytes(n uint64) []byte {
	i, j := r.span(n)
	return r.b[i:j:j]
}

func (r *strReader) done() bool { return !r.bad && r.i == len(r.s) }
