package dcbackup

import (
	"encoding/binary"
	"hash/crc32"
)

// The frames around a segment's payload (see SEGMENT-FORMAT.md). Common to
// every version: the magic, the version at offset 4, the checksum kind at
// offset 6 and the CRC-32C trailer over everything before it.
//
// Version 2:
//
//	offset  size
//	0       4    magic "DCBS"
//	4       1    format version, 2
//	5       1    compression (0 none, 1 zstd)
//	6       1    checksum kind (1 CRC-32C)
//	7       1    encryption (0 none, 1 age)
//	8       4    H, the header's length, uint32 little endian, 1..65536
//	12      H    header, one CBOR array
//	12+H    4    CRC-32C of bytes [0, 12+H)
//	16+H    n    body
//	16+H+n  4    CRC-32C of bytes [0, 16+H+n)
//
// Version 1:
//
//	0      4    magic "DCBS"
//	4      1    format version, 1
//	5      1    compression (0 none, 1 zstd)
//	6      1    checksum kind (1 CRC-32C)
//	7      1    reserved, 0
//	8      8    payload length after decompression, uint64 little endian
//	16     n    payload as stored
//	16+n   4    CRC-32C of bytes [0, 16+n)
const (
	frameMagic      = "DCBS"
	frameTrailerLen = 4

	frameV1HeaderLen = 16
	frameV1MinLen    = frameV1HeaderLen + frameTrailerLen

	// frameV2PrefixLen is the fixed part before the header.
	frameV2PrefixLen = 12
	// frameV2MaxHeaderLen bounds H.
	frameV2MaxHeaderLen = 1 << 16
	// frameV2MinLen: prefix, a header of one byte, its CRC, the trailer.
	frameV2MinLen = frameV2PrefixLen + 1 + 4 + frameTrailerLen
	// frameMinLen is the shortest frame of any version.
	frameMinLen = min(frameV1MinLen, frameV2MinLen)

	frameCompressionNone = 0
	frameCompressionZstd = 1

	frameEncryptionNone = 0
	frameEncryptionAge  = 1

	checksumCRC32C = 1

	// headerDigestLen is the length of the header digest that starts a
	// version 2 body's plaintext.
	headerDigestLen = 32
)

// SegmentHeadReadSize is a number of leading bytes of a segment that holds
// its whole header in practice (the header takes under 250 bytes plus 17 per
// recipient): read that many (a ranged GET), and call SegmentHeaderSize to
// know whether more is needed.
const SegmentHeadReadSize = 1024

// newCRCTable returns the CRC-32C table (hardware accelerated where the CPU
// has it).
func newCRCTable() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// putFrameV2Prefix writes the fixed prefix into p[:frameV2PrefixLen].
func putFrameV2Prefix(p []byte, compression, encryption byte, headerLen int) {
	copy(p[0:4], frameMagic)
	p[4] = SegmentFormatVersion
	p[5] = compression
	p[6] = checksumCRC32C
	p[7] = encryption
	binary.LittleEndian.PutUint32(p[8:12], uint32(headerLen))
}

// checkFrame verifies the magic and the checksum before anything else is
// read, and returns the format version; the error is the cause, to be
// wrapped by the caller.
func checkFrame(data []byte, table *crc32.Table) (byte, error) {
	if len(data) < frameMinLen {
		return 0, corruptf("%d bytes, shorter than the shortest frame (%d bytes)", len(data), frameMinLen)
	}
	if string(data[0:4]) != frameMagic {
		return 0, corruptf("not a segment (bad magic %q)", data[0:4])
	}
	version := data[4]
	if data[6] != checksumCRC32C {
		if version > SegmentFormatVersion {
			return 0, unsupportedVersion(version)
		}
		return 0, corruptf("unknown checksum kind %d", data[6])
	}
	n := len(data) - frameTrailerLen
	want := binary.LittleEndian.Uint32(data[n:])
	if got := crc32.Checksum(data[:n], table); got != want {
		return 0, corruptf("checksum mismatch (stored %08x, computed %08x over %d bytes): the segment is damaged or truncated", want, got, n)
	}
	switch {
	case version > SegmentFormatVersion:
		return 0, unsupportedVersion(version)
	case version < 1:
		return 0, corruptf("format version %d", version)
	}
	return version, nil
}

// frameV1 is a verified version 1 frame.
type frameV1 struct {
	compression byte
	rawLen      uint64
	payload     []byte
}

// checkFrameV1 reads a version 1 frame whose checksum verified.
func checkFrameV1(data []byte) (frameV1, error) {
	if len(data) < frameV1MinLen {
		return frameV1{}, corruptf("%d bytes, shorter than the %d-byte version 1 frame", len(data), frameV1MinLen)
	}
	if data[7] != 0 {
		return frameV1{}, corruptf("reserved header byte is %d", data[7])
	}
	f := frameV1{
		compression: data[5],
		rawLen:      binary.LittleEndian.Uint64(data[8:16]),
		payload:     data[frameV1HeaderLen : len(data)-frameTrailerLen],
	}
	switch f.compression {
	case frameCompressionNone:
		if f.rawLen != uint64(len(f.payload)) {
			return frameV1{}, corruptf("payload length %d, header says %d", len(f.payload), f.rawLen)
		}
	case frameCompressionZstd:
	default:
		return frameV1{}, corruptf("unknown compression %d", f.compression)
	}
	return f, nil
}

// checkRawLen refuses, before anything is decompressed, a payload larger
// than maxLen or than the compression ratio bound allows for a body of
// stored bytes.
func checkRawLen(rawLen uint64, stored int, maxLen int64) error {
	if rawLen > uint64(maxLen) {
		return tooLargef("payload of %d bytes, limit %d (DecodeOptions.MaxDecodedBytes)", rawLen, maxLen)
	}
	if bound := maxRawLen(stored); rawLen > bound {
		return tooLargef("payload of %d bytes from %d stored bytes, more than the compression ratio bound allows (%d × %d + %d = %d)",
			rawLen, stored, SegmentMaxCompressionRatio, stored, SegmentCompressionSlack, bound)
	}
	return nil
}

// maxRawLen is the largest raw length a body of stored bytes may claim.
func maxRawLen(stored int) uint64 {
	return SegmentMaxCompressionRatio*uint64(stored) + SegmentCompressionSlack
}
