package dcbackup

import (
	"errors"
	"fmt"

	"filippo.io/age"
)

// Errors of the segment encoding, besides ErrCorruptSegment.
var (
	// ErrUnsupportedSegmentVersion: the segment was written by a newer
	// version of this package, in a format this one cannot read. Upgrade the
	// reader; the segment itself is intact (its checksum verified).
	ErrUnsupportedSegmentVersion = errors.New("unsupported segment format version")
	// ErrSegmentTooLarge: the segment would decode to more bytes than
	// DecodeOptions.MaxDecodedBytes allows, or to more than the compression
	// ratio bound (SegmentMaxCompressionRatio) lets its stored size claim
	// (refused before anything is decompressed); or a store refuses to
	// read or write it, as larger than its maximum segment size.
	ErrSegmentTooLarge = errors.New("segment too large")
	// ErrInvalidSegment: a Segment given to the encoder is not well formed
	// (the error says why); nothing was encoded.
	ErrInvalidSegment = errors.New("invalid segment")
	// ErrNoKey: the segment is encrypted and no identity of
	// DecodeOptions.Identities can open it (none given, or none of its
	// recipients). The error names the fingerprints of the recipients the
	// segment was encrypted to (see RecipientFingerprint). The segment's
	// frame and header verified; its payload was not read.
	ErrNoKey = errors.New("no identity can open the segment")
	// ErrNotEncrypted: DecodeOptions.Identities is set, so the caller
	// expects encrypted segments, and the segment is not encrypted: anyone
	// who can write to the store could have written it. Errors matching it
	// also match ErrCorruptSegment. DecodeOptions.AllowUnencrypted accepts
	// such segments (a store that was not encrypted before).
	ErrNotEncrypted = errors.New("segment is not encrypted")
)

// SegmentError is the error of decoding one stored segment. It names the
// segment and wraps one of ErrCorruptSegment (with ErrWrongDatabase for a
// segment of another database, ErrNotEncrypted for a plaintext segment
// where encrypted ones are expected), ErrUnsupportedSegmentVersion,
// ErrSegmentTooLarge or ErrNoKey.
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
// zstd-compressed, unencrypted segments.
type EncodeOptions struct {
	// Compression of the payload; zero is zstd. A payload that zstd would
	// shrink beyond SegmentMaxCompressionRatio is stored uncompressed.
	Compression Compression
	// Recipients, when set, encrypt every segment's payload with age
	// (filippo.io/age) to all of them: any one of the matching identities
	// opens it. They are public keys, such as the *age.X25519Recipient
	// that age.ParseX25519Recipient returns for an "age1..." line of
	// age-keygen, so a backup host needs no secret key. Their
	// fingerprints (RecipientFingerprint) are stored in the clear, so
	// that a reader can tell which key a segment needs.
	Recipients []age.Recipient
}

// DefaultMaxDecodedBytes is the decode size limit used when
// DecodeOptions.MaxDecodedBytes is 0: 256 MiB, many times the payload of
// a segment of the default size (100,000 datoms, a few MiB).
const DefaultMaxDecodedBytes = 256 << 20

// The compression ratio bound, part of the segment format: a segment
// whose raw length (the payload's size after decryption and
// decompression) exceeds SegmentMaxCompressionRatio × its stored body
// length + SegmentCompressionSlack is refused before it is decompressed
// (ErrSegmentTooLarge), and the encoder never writes one (it stores such a
// payload uncompressed). So a small segment cannot make a reader allocate
// much more than its own size.
const (
	SegmentMaxCompressionRatio = 64
	SegmentCompressionSlack    = 64 << 10
)

// DecodeOptions configure a SegmentDecoder. The zero value is ready to use
// and reads unencrypted segments.
type DecodeOptions struct {
	// MaxDecodedBytes bounds the size of a segment's payload after
	// decompression, and with it the memory a hostile segment can make the
	// decoder use; 0 means DefaultMaxDecodedBytes. The decoded Segment
	// takes more memory than its payload (Go values: about 50 bytes per
	// datom plus its value), but every allocation is bounded by the payload
	// size, whatever the payload claims. Segments are refused before any
	// decompression when the payload would exceed it, or the compression
	// ratio bound (SegmentMaxCompressionRatio).
	MaxDecodedBytes int64
	// DB, when set, is the database the caller expects: it names the
	// segment in errors, and a segment of another database is refused with
	// an error matching both ErrWrongDatabase and ErrCorruptSegment (it is
	// stored in the wrong place).
	DB string
	// Identities open encrypted segments (for example the
	// *age.X25519Identity values that age.ParseIdentities reads from an
	// age-keygen key file). Give every identity still needed: after a key
	// rotation, the old identities open the old segments. Without
	// identities an encrypted segment fails with ErrNoKey after its frame
	// and header were checked.
	//
	// When Identities is set, unencrypted segments are refused
	// (ErrNotEncrypted): an encrypted store holds none, and a plaintext
	// segment in it was written by someone without a recipient key.
	Identities []age.Identity
	// AllowUnencrypted accepts unencrypted segments although Identities is
	// set: for a store that was backed up without encryption before.
	AllowUnencrypted bool
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
