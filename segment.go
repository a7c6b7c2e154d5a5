package dcbackup

import (
	"errors"
	"fmt"
)

// Errors of the segment encoding, besides ErrCorruptSegment.
var (
	// ErrUnsupportedSegmentVersion: the segment was written by a newer
	// version of this package, in a format this one cannot read. Upgrade the
	// reader; the segment itself is intact (its checksum verified).
	ErrUnsupportedSegmentVersion = errors.New("dcbackup: unsupported segment format version")
	// ErrSegmentTooLarge: the segment decodes to more bytes than
	// DecodeOptions.MaxDecodedBytes allows.
	ErrSegmentTooLarge = errors.New("dcbackup: segment exceeds the decode size limit")
	// ErrInvalidSegment: a Segment given to the encoder is not well formed
	// (the error says why); nothing was encoded.
	ErrInvalidSegment = errors.New("dcbackup: invalid segment")
)

// SegmentError is the error of decoding one stored segment. It names the
// segment and wraps one of ErrCorruptSegment (with ErrWrongDatabase for a
// segment of another database), ErrUnsupportedSegmentVersion or
// ErrSegmentTooLarge.
type SegmentError struct {
	// DB is the database name, when known (DecodeOptions.DB, else the name
	// read from a segment whose checksum verified).
	DB string
	// Seg is the range the caller asked for.
	Seg SegmentInfo
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *SegmentError) Error() string {
	if e.DB != "" {
		return fmt.Sprintf("dcbackup: segment %s of database %q: %v", e.Seg, e.DB, e.Err)
	}
	return fmt.Sprintf("dcbackup: segment %s: %v", e.Seg, e.Err)
}

// Unwrap returns the cause.
func (e *SegmentError) Unwrap() error { return e.Err }

// Compression selects how a segment's payload is compressed.
type Compression uint8

// Compressions. The zero value is zstd.
const (
	// CompressionZstd compresses the payload with Zstandard (default level).
	CompressionZstd Compression = iota
	// CompressionNone stores the payload as is.
	CompressionNone
)

// String names the compression.
func (c Compression) String() string {
	switch c {
	case CompressionZstd:
		return "zstd"
	case CompressionNone:
		return "none"
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

// EncodeOptions configure a SegmentEncoder. The zero value writes
// zstd-compressed segments.
type EncodeOptions struct {
	// Compression of the payload; zero is zstd.
	Compression Compression
}

// DefaultMaxDecodedBytes is the decode size limit used when
// DecodeOptions.MaxDecodedBytes is 0.
const DefaultMaxDecodedBytes = 1 << 30

// DecodeOptions configure a SegmentDecoder. The zero value is ready to use.
type DecodeOptions struct {
	// MaxDecodedBytes bounds the size of a segment's payload after
	// decompression, and with it the memory a hostile segment can make the
	// decoder use; 0 means DefaultMaxDecodedBytes. The decoded Segment
	// takes more memory than its payload (Go values: about 50 bytes per
	// datom plus its value), but every allocation is bounded by the payload
	// size, whatever the payload claims.
	MaxDecodedBytes int64
	// DB, when set, is the database the caller expects: it names the
	// segment in errors, and a segment of another database is refused with
	// an error matching both ErrWrongDatabase and ErrCorruptSegment (it is
	// stored in the wrong place).
	DB string
}

func (o DecodeOptions) maxDecoded() int64 {
	if o.MaxDecodedBytes <= 0 {
		return DefaultMaxDecodedBytes
	}
	return o.MaxDecodedBytes
}

// EncodeSegment encodes seg in the on-disk format described in
// SEGMENT-FORMAT.md. It builds a new encoder each call; loops should reuse a
// SegmentEncoder.
func EncodeSegment(seg *Segment, opts EncodeOptions) ([]byte, error) {
	enc, err := NewSegmentEncoder(opts)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.Encode(seg)
}

// DecodeSegment verifies and decodes a segment stored as info (only StartT
// and EndT are used; they must match the segment's own range unless both
// are 0). It builds a new decoder each call; loops should reuse a
// SegmentDecoder. Errors are *SegmentError values.
func DecodeSegment(data []byte, info SegmentInfo, opts DecodeOptions) (*Segment, error) {
	dec, err := NewSegmentDecoder(opts)
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	return dec.Decode(data, info)
}
