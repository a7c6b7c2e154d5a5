package dcbackup_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

// fuzzSeeds are real encoded segments, small enough for a fuzzer to work
// with.
func fuzzSeeds(t testing.TB) [][]byte {
	var segs []*dcbackup.Segment
	for seed := range uint64(4) {
		segs = append(segs, genSegment(100+seed, int(1+seed)))
	}
	segs = append(segs, benchSegment(150), &dcbackup.Segment{DB: "empty", StartT: 1, EndT: 2})
	var out [][]byte
	for _, seg := range segs {
		for _, c := range []dcbackup.Compression{dcbackup.CompressionZstd, dcbackup.CompressionNone} {
			data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{Compression: c})
			require.NoError(t, err)
			out = append(out, data)
		}
	}
	return out
}

// withValidChecksum returns data with its last four bytes replaced by the
// CRC-32C of the rest, so that the fuzzer's mutations reach the payload
// decoder instead of stopping at the checksum.
func withValidChecksum(data []byte) []byte {
	if len(data) < 20 {
		return data
	}
	b := bytes.Clone(data)
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// framePayload wraps raw bytes as the uncompressed payload of a version 1
// frame with a valid checksum, so that mutations work on the CBOR directly.
func framePayload(raw []byte) []byte {
	b := make([]byte, 16, 16+len(raw)+4)
	copy(b, "DCBS\x01\x00\x01\x00")
	binary.LittleEndian.PutUint64(b[8:], uint64(len(raw)))
	b = append(b, raw...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// FuzzDecodeSegment feeds arbitrary bytes to the decoder: as is, with a
// valid checksum patched in, and framed as an uncompressed payload. It must never panic; it must fail with a
// *SegmentError of a known kind, or return a segment that survives a
// round trip unchanged.
func FuzzDecodeSegment(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
		if s[5] == 0 { // uncompressed: its payload alone is a seed too
			f.Add(s[16 : len(s)-4])
		}
	}
	// The fuzz function runs sequentially within each worker process, so
	// one encoder and decoder serve every call.
	dec, err := dcbackup.NewSegmentDecoder(dcbackup.DecodeOptions{MaxDecodedBytes: 4 << 20})
	require.NoError(f, err)
	enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, withValidChecksum(data), framePayload(data)} {
			seg, err := dec.Decode(in, dcbackup.SegmentInfo{})
			if err != nil {
				var se *dcbackup.SegmentError
				require.ErrorAs(t, err, &se)
				require.True(t, errors.Is(err, dcbackup.ErrCorruptSegment) ||
					errors.Is(err, dcbackup.ErrUnsupportedSegmentVersion) ||
					errors.Is(err, dcbackup.ErrSegmentTooLarge), "unexpected error kind: %v", err)
				continue
			}
			again, err := enc.Encode(seg)
			require.NoError(t, err, "a decoded segment must encode")
			seg2, err := dec.Decode(again, seg.Info())
			require.NoError(t, err)
			requireSameSegment(t, seg, seg2)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzDecodeSegment from the
// seeds when DCBACKUP_WRITE_FUZZ_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("DCBACKUP_WRITE_FUZZ_CORPUS") != "1" {
		t.Skip("set DCBACKUP_WRITE_FUZZ_CORPUS=1 to regenerate the fuzz corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeSegment")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	write := func(name string, s []byte) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	for i, s := range fuzzSeeds(t) {
		write(fmt.Sprintf("seed-%02d", i), s)
		if s[5] == 0 {
			write(fmt.Sprintf("seed-%02d-payload", i), s[16:len(s)-4])
		}
	}
}
