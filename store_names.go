package dcbackup

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalidSegmentRange: a SegmentInfo whose range is empty or negative.
var ErrInvalidSegmentRange = errors.New("invalid segment range")

// MaxDBNameLen is the longest database name a store accepts.
const MaxDBNameLen = 128

// ValidateDBName reports, with an error matching ErrInvalidDBName, whether
// db cannot be used as a database name in a store. A valid name is 1 to
// MaxDBNameLen bytes of ASCII letters, digits, '.', '_' and '-', and starts
// with a letter or digit; so it is never "." or "..", holds no path
// separator, and can be used as a directory name or key component as is.
func ValidateDBName(db string) error {
	if db == "" {
		return fmt.Errorf("%w: empty", ErrInvalidDBName)
	}
	if len(db) > MaxDBNameLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidDBName, MaxDBNameLen)
	}
	for i := 0; i < len(db); i++ {
		c := db[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return fmt.Errorf("%w: %q (use letters, digits, '.', '_' and '-', starting with a letter or digit)", ErrInvalidDBName, db)
		}
	}
	return nil
}

// ValidateSegmentRange reports, with an error matching
// ErrInvalidSegmentRange, whether seg is not a storable range: it needs
// 0 <= StartT < EndT.
func ValidateSegmentRange(seg SegmentInfo) error {
	if seg.StartT < 0 || seg.EndT <= seg.StartT {
		return fmt.Errorf("%w: %s", ErrInvalidSegmentRange, seg)
	}
	return nil
}

// segmentNameDigits is the width of each zero-padded t in a segment name;
// 19 digits hold every non-negative int64.
const segmentNameDigits = 19

// SegmentFileSuffix ends every segment's file name or key.
const SegmentFileSuffix = ".seg"

// SegmentFileName returns the name under which stores keep segment seg:
// "<StartT>-<EndT>.seg" with both t values zero-padded to 19 digits, so that
// a plain lexical listing sorts by t.
func SegmentFileName(seg SegmentInfo) string {
	b := make([]byte, 0, 2*segmentNameDigits+1+len(SegmentFileSuffix))
	b = appendPadded(b, seg.StartT)
	b = append(b, '-')
	b = appendPadded(b, seg.EndT)
	b = append(b, SegmentFileSuffix...)
	return string(b)
}

func appendPadded(b []byte, v int64) []byte {
	var d [segmentNameDigits]byte
	s := strconv.AppendInt(d[:0], v, 10)
	for i := len(s); i < segmentNameDigits; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// ParseSegmentFileName parses a name made by SegmentFileName; ok is false
// for any other name (temporary and foreign files), including names whose
// range is not valid.
func ParseSegmentFileName(name string) (seg SegmentInfo, ok bool) {
	const n = segmentNameDigits
	if len(name) != 2*n+1+len(SegmentFileSuffix) || name[n] != '-' || name[2*n+1:] != SegmentFileSuffix {
		return SegmentInfo{}, false
	}
	start, ok1 := parseDigits(name[:n])
	end, ok2 := parseDigits(name[n+1 : 2*n+1])
	seg = SegmentInfo{StartT: start, EndT: end}
	if !ok1 || !ok2 || ValidateSegmentRange(seg) != nil {
		return SegmentInfo{}, false
	}
	return seg, true
}

func parseDigits(s string) (int64, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}
