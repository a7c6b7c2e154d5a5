package dcbackup

import (
	"encoding/binary"
	"hash/crc32"
)

// The frame around a segment's payload (see SEGMENT-FORMAT.md):
//
//	offset size
//	0      4    magic "DCBS"
//	4      1    format version
//	5      1    compression (0 none, 1 zstd)
//	6      1    checksum kind (1 CRC-32C)
//	7      1    reserved, 0
//	8      8    payload length after decompression, uint64 little endian
//	16     n    payload as stored
//	16+n   4    CRC-32C (Castagnoli) of bytes [0, 16+n), little endian
const (
	frameMagic      = "DCBS"
	frameHeaderLen  = 16
	frameTrailerLen = 4
	frameMinLen     = frameHeaderLen + frameTrailerLen

	frameCompressionNone = 0
	frameCompressionZstd = 1

	checksumCRC32C = 1
)

// newCRCTable returns the CRC-32C table (hardware accelerated where the CPU
// has it).
func newCRCTable() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// putFrameHeader writes the header into h[:frameHeaderLen].
func putFrameHeader(h []byte, compression byte, rawLen int) {
	copy(h[0:4], frameMagic)
	h[4] = SegmentFormatVersion
	h[5] = compression
	h[6] = checksumCRC32C
	h[7] = 0
	binary.LittleEndian.PutUint64(h[8:16], uint64(rawLen))
}

// frame is a verified frame.
type frame struct {
	compression byte
	rawLen      uint64
	payload     []byte
}

// checkFrame verifies the checksum before anything else is read; the
// returned error is the cause, to be wrapped by the caller.
func checkFrame(data []byte, table *crc32.Table) (frame, error) {
	if len(data) < frameMinLen {
		return frame{}, corruptf("%d bytes, shorter than the %d-byte frame", len(data), frameMinLen)
	}
	if string(data[0:4]) != frameMagic {
		return frame{}, corruptf("not a segment (bad magic %q)", data[0:4])
	}
	version := data[4]
	if data[6] != checksumCRC32C {
		if version > SegmentFormatVersion {
			return frame{}, unsupportedVersion(version)
		}
		return frame{}, corruptf("unknown checksum kind %d", data[6])
	}
	n := len(data) - frameTrailerLen
	want := binary.LittleEndian.Uint32(data[n:])
	if got := crc32.Checksum(data[:n], table); got != want {
		return frame{}, corruptf("checksum mismatch (stored %08x, computed %08x over %d bytes): the segment is damaged or truncated", want, got, n)
	}
	switch {
	case version > SegmentFormatVersion:
		return frame{}, unsupportedVersion(version)
	case version < 1:
		return frame{}, corruptf("format version %d", version)
	}
	if data[7] != 0 {
		return frame{}, corruptf("reserved header byte is %d", data[7])
	}
	f := frame{
		compression: data[5],
		rawLen:      binary.LittleEndian.Uint64(data[8:16]),
		payload:     data[frameHeaderLen:n],
	}
	switch f.compression {
	case frameCompressionNone:
		if f.rawLen != uint64(len(f.payload)) {
			return frame{}, corruptf("payload length %d, header says %d", len(f.payload), f.rawLen)
		}
	case frameCompressionZstd:
	default:
		return frame{}, corruptf("unknown compression %d", f.compression)
	}
	return f, nil
}
