package dcbackup

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/fxamacker/cbor/v2"
)

// headerRecord is the CBOR header of a version 2 segment (see
// SEGMENT-FORMAT.md).
type headerRecord struct {
	_           struct{} `cbor:",toarray"`
	DB          string
	StartT      int64
	EndT        int64
	TxCount     uint64
	DatomCount  uint64
	RawLen      uint64
	StoredLen   uint64
	Lineage     []byte
	Prev        linkRecord
	Last        linkRecord
	Features    uint64
	MaxStr      uint64
	MaxTupleStr uint64
	Recipients  []string
}

// linkRecord is a TxLink: [t, digest], the digest empty for t -1.
type linkRecord struct {
	_      struct{} `cbor:",toarray"`
	T      int64
	Digest []byte
}

// maxFingerprintLen bounds a recipient fingerprint in a header.
const maxFingerprintLen = 128

func toLinkRecord(l TxLink) linkRecord {
	if l.T < 0 {
		return linkRecord{T: l.T, Digest: []byte{}}
	}
	return linkRecord{T: l.T, Digest: l.Digest[:]}
}

func (r linkRecord) link(what string) (TxLink, error) {
	l := TxLink{T: r.T}
	switch {
	case r.T < -1:
		return l, corruptf("header: %s link has t %d", what, r.T)
	case r.T == -1 && len(r.Digest) != 0:
		return l, corruptf("header: %s link without a transaction has a digest", what)
	case r.T >= 0 && len(r.Digest) != len(l.Digest):
		return l, corruptf("header: %s link digest of %d bytes, want %d", what, len(r.Digest), len(l.Digest))
	}
	copy(l.Digest[:], r.Digest)
	return l, nil
}

// headerFromRecord validates a decoded header record and converts it. It
// checks what the header alone can tell; frame is the 12-byte prefix.
func headerFromRecord(r *headerRecord, frame []byte) (SegmentHeader, error) {
	h := SegmentHeader{
		Version:           int(frame[4]),
		DB:                r.DB,
		StartT:            r.StartT,
		EndT:              r.EndT,
		Encrypted:         frame[7] == frameEncryptionAge,
		Recipients:        r.Recipients,
		Features:          Features(r.Features),
		MaxStringLen:      int(min(r.MaxStr, 1<<62)),
		MaxTupleStringLen: int(min(r.MaxTupleStr, 1<<62)),
	}
	switch frame[5] {
	case frameCompressionNone:
		h.Compression = CompressionNone
	case frameCompressionZstd:
		h.Compression = CompressionZstd
	default:
		return h, corruptf("unknown compression %d", frame[5])
	}
	if frame[7] > frameEncryptionAge {
		return h, corruptf("unknown encryption %d", frame[7])
	}
	if err := ValidateDBName(r.DB); err != nil {
		return h, corruptf("header: %v", err)
	}
	if err := ValidateSegmentRange(SegmentInfo{StartT: r.StartT, EndT: r.EndT}); err != nil {
		return h, corruptf("header: %v", err)
	}
	// Counts and lengths: each transaction has its own t in the range,
	// takes at least 2 payload bytes and each datom at least 1; every
	// size fits an int64.
	const maxLen = 1 << 62
	switch {
	case r.RawLen == 0 || r.RawLen > maxLen || r.StoredLen > maxLen:
		return h, corruptf("header: raw length %d, stored length %d", r.RawLen, r.StoredLen)
	case r.TxCount > uint64(r.EndT-r.StartT) || r.TxCount > r.RawLen/2:
		return h, corruptf("header: %d transactions in range %s of a %d-byte payload", r.TxCount, h.Info(), r.RawLen)
	case r.DatomCount > r.RawLen:
		return h, corruptf("header: %d datoms in a %d-byte payload", r.DatomCount, r.RawLen)
	case r.MaxStr > r.RawLen || r.MaxTupleStr > r.RawLen:
		return h, corruptf("header: longest strings of %d and %d characters in a %d-byte payload", r.MaxStr, r.MaxTupleStr, r.RawLen)
	case r.Features&^uint64(featuresAll) != 0:
		return h, corruptf("header: unknown features %#x", r.Features&^uint64(featuresAll))
	case len(r.Lineage) != len(h.Lineage):
		return h, corruptf("header: lineage fingerprint of %d bytes, want %d", len(r.Lineage), len(h.Lineage))
	}
	h.TxCount, h.DatomCount = int64(r.TxCount), int64(r.DatomCount)
	h.RawLen, h.StoredLen = int64(r.RawLen), int64(r.StoredLen)
	copy(h.Lineage[:], r.Lineage)
	var err error
	if h.Prev, err = r.Prev.link("previous"); err != nil {
		return h, err
	}
	if h.Last, err = r.Last.link("last"); err != nil {
		return h, err
	}
	switch {
	case h.Prev.T >= r.StartT:
		return h, corruptf("header: previous transaction t %d is not before the range %s", h.Prev.T, h.Info())
	case h.Last.T < h.Prev.T || h.Last.T >= r.EndT:
		return h, corruptf("header: last transaction t %d outside [%d, %d)", h.Last.T, h.Prev.T, r.EndT)
	case r.TxCount == 0 && h.Last != h.Prev:
		return h, corruptf("header: no transactions, but the last transaction %s is not the previous one %s", h.Last, h.Prev)
	case r.TxCount > 0 && h.Last.T < r.StartT:
		return h, corruptf("header: %d transactions, but the last one has t %d, before the range %s", r.TxCount, h.Last.T, h.Info())
	}
	switch {
	case h.Encrypted && len(r.Recipients) == 0:
		return h, corruptf("header: encrypted, but no recipients")
	case !h.Encrypted && len(r.Recipients) > 0:
		return h, corruptf("header: %d recipients, but not encrypted", len(r.Recipients))
	}
	for _, fp := range r.Recipients {
		if fp == "" || len(fp) > maxFingerprintLen {
			return h, corruptf("header: recipient fingerprint %q", fp)
		}
	}
	if len(h.Recipients) == 0 {
		h.Recipients = nil
	}
	return h, nil
}

// Info returns the header's range as a SegmentInfo (Size is StoredLen).
func (h SegmentHeader) Info() SegmentInfo {
	return SegmentInfo{StartT: h.StartT, EndT: h.EndT, Size: h.StoredLen}
}

// SegmentHeaderSize returns how many leading bytes of a segment
// DecodeSegmentHeader needs, from at least its first 12 bytes. Errors
// match ErrCorruptSegment (fewer than 12 bytes, not a segment, a header
// length out of bounds) or ErrUnsupportedSegmentVersion.
func SegmentHeaderSize(prefix []byte) (int, error) { return headerSize(prefix) }

func headerSize(prefix []byte) (int, error) {
	if len(prefix) < frameV2PrefixLen {
		return 0, corruptf("%d bytes, fewer than the %d that tell the header's size", len(prefix), frameV2PrefixLen)
	}
	if string(prefix[0:4]) != frameMagic {
		return 0, corruptf("not a segment (bad magic %q)", prefix[0:4])
	}
	switch v := prefix[4]; {
	case v == 1:
		return frameV1HeaderLen, nil
	case v > SegmentFormatVersion:
		if damagedVersionByte(prefix) {
			return 0, corruptf("format version byte is %d, but the header's checksum matches version %d: the segment is damaged", v, SegmentFormatVersion)
		}
		return 0, unsupportedVersion(v)
	case v < 1:
		return 0, corruptf("format version %d", v)
	}
	h := binary.LittleEndian.Uint32(prefix[8:12])
	if h < 1 || h > frameV2MaxHeaderLen {
		return 0, corruptf("header length %d outside [1, %d]", h, frameV2MaxHeaderLen)
	}
	return frameV2PrefixLen + int(h) + 4, nil
}

// damagedVersionByte reports whether a header prefix that names a newer
// format version is a segment of this version whose version byte is
// damaged: its header checksum matches with this version in its place. A
// segment of a newer version written as such does not match (but for a
// chance of 2^-32). With too few bytes to tell, it reports false.
func damagedVersionByte(prefix []byte) bool {
	h := int(binary.LittleEndian.Uint32(prefix[8:12]))
	if prefix[6] != checksumCRC32C || h < 1 || h > frameV2MaxHeaderLen || len(prefix) < frameV2PrefixLen+h+4 {
		return false
	}
	end := frameV2PrefixLen + h
	table := newCRCTable()
	crc := crc32.Update(0, table, prefix[:4])
	crc = crc32.Update(crc, table, []byte{SegmentFormatVersion})
	crc = crc32.Update(crc, table, prefix[5:end])
	return crc == binary.LittleEndian.Uint32(prefix[end:])
}

// DecodeSegmentHeader reads and checks the header from the first bytes of
// a segment stored as info (at least SegmentHeaderSize of them; reading
// SegmentHeadReadSize bytes is enough in practice), without the rest of
// the segment and without any key: the header has its own checksum. When
// info has a range it must be the header's; when info.Size is set (a
// listing's size) it must be the header's stored length, so a truncated
// segment shows. Errors are *SegmentError values wrapping
// ErrCorruptSegment or ErrUnsupportedSegmentVersion.
//
// Of a version 1 segment it returns only Version, Compression and RawLen,
// unchecked: its frame has no checksum of its own.
func DecodeSegmentHeader(prefix []byte, info SegmentInfo) (SegmentHeader, error) {
	dm, err := newSegmentDecMode()
	if err != nil {
		return SegmentHeader{}, err
	}
	h, _, err := decodeHeader(prefix, info, dm, nil)
	if err != nil {
		db := ""
		if h.DB != "" && ValidateDBName(h.DB) == nil {
			db = h.DB
		}
		return SegmentHeader{}, &SegmentError{DB: db, Seg: info.rangeOnly(), Err: err}
	}
	return h, nil
}

// rangeOnly returns info without its size.
func (info SegmentInfo) rangeOnly() SegmentInfo {
	return SegmentInfo{StartT: info.StartT, EndT: info.EndT}
}

// decodeHeader reads the header of the segment starting with prefix and
// returns it with its length H. table, when set, is the CRC table;
// a non-empty DB in the header returned with an error names the segment
// (the header's checksum verified).
func decodeHeader(prefix []byte, info SegmentInfo, dm cbor.DecMode, table *crc32.Table) (SegmentHeader, int, error) {
	size, err := headerSize(prefix)
	if err != nil {
		return SegmentHeader{}, 0, err
	}
	if len(prefix) < size {
		return SegmentHeader{}, 0, corruptf("%d bytes, fewer than the %d of its header", len(prefix), size)
	}
	if prefix[4] == 1 {
		h := SegmentHeader{Version: 1, RawLen: int64(min(binary.LittleEndian.Uint64(prefix[8:16]), 1<<62))}
		if prefix[5] == frameCompressionNone {
			h.Compression = CompressionNone
		}
		return h, 0, nil
	}
	if prefix[6] != checksumCRC32C {
		return SegmentHeader{}, 0, corruptf("unknown checksum kind %d", prefix[6])
	}
	if table == nil {
		table = newCRCTable()
	}
	hlen := size - frameV2PrefixLen - 4
	end := frameV2PrefixLen + hlen
	want := binary.LittleEndian.Uint32(prefix[end:])
	if got := crc32.Checksum(prefix[:end], table); got != want {
		return SegmentHeader{}, 0, corruptf("header checksum mismatch (stored %08x, computed %08x over %d bytes): the segment is damaged", want, got, end)
	}
	var r headerRecord
	if err := dm.Unmarshal(prefix[frameV2PrefixLen:end], &r); err != nil {
		return SegmentHeader{}, 0, corruptf("header: cbor: %v", err)
	}
	h, err := headerFromRecord(&r, prefix[:frameV2PrefixLen])
	if err != nil {
		return h, 0, err
	}
	if info.StartT != 0 || info.EndT != 0 {
		if info.StartT != h.StartT || info.EndT != h.EndT {
			return h, 0, corruptf("it holds range %s, stored as %s", SegmentInfo{StartT: h.StartT, EndT: h.EndT}, info.rangeOnly())
		}
	}
	if info.Size > 0 && info.Size != h.StoredLen {
		return h, 0, corruptf("stored as %d bytes, header says %d: the segment is truncated or damaged", info.Size, h.StoredLen)
	}
	return h, hlen, nil
}

// marshalHeader appends the CBOR of r to dst.
func marshalHeader(dst []byte, em cbor.EncMode, r *headerRecord) ([]byte, error) {
	b, err := em.Marshal(r)
	if err != nil {
		return dst, fmt.Errorf("header: cbor: %w", err)
	}
	return append(dst, b...), nil
}
