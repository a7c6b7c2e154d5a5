package dcbackup

import (
	"errors"
)

// ErrNoKey: a segment is encrypted and none of the identities given can
// open it; the error names the recipients it was encrypted to.
var ErrNoKey = errors.New("dcbackup: no identity can open the segment")

// SegmentHeadReadSize is how many bytes of a segment's beginning hold its
// header in practice; see SegmentHeaderSize for the exact need.
const SegmentHeadReadSize = 1024

// SegmentHeaderSize returns how many bytes of a segment's beginning its
// header takes, from at least its first frameHeaderLen bytes.
func SegmentHeaderSize(prefix []byte) (int, error) {
	if len(prefix) < frameHeaderLen {
		return frameHeaderLen, nil
	}
	return frameHeaderLen, nil
}

// DecodeSegmentHeader checks the header of a segment stored as info from
// the first bytes of its stored form (at least SegmentHeaderSize of them).
// A version 1 segment's header is its frame: Version and RawLen only; the
// rest is known once the segment is decoded.
func DecodeSegmentHeader(prefix []byte, info SegmentInfo) (SegmentHeader, error) {
	fail := func(err error) (SegmentHeader, error) {
		return SegmentHeader{}, &SegmentError{Seg: SegmentInfo{StartT: info.StartT, EndT: info.EndT}, Err: err}
	}
	if len(prefix) < frameHeaderLen {
		return fail(corruptf("%d bytes, shorter than the %d-byte frame header", len(prefix), frameHeaderLen))
	}
	if string(prefix[0:4]) != frameMagic {
		return fail(corruptf("not a segment (bad magic %q)", prefix[0:4]))
	}
	switch v := prefix[4]; {
	case v > SegmentFormatVersion:
		return fail(unsupportedVersion(v))
	case v < 1:
		return fail(corruptf("format version %d", v))
	}
	return SegmentHeader{Version: int(prefix[4]), StartT: info.StartT, EndT: info.EndT}, nil
}
