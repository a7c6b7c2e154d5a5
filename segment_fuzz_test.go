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

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

// fuzzSeeds are real encoded segments, small enough for a fuzzer to work
// with.
func fuzzSeeds(t testing.TB) [][]byte {
	var segs []*dcbackup.Segment
	for seed := range uint64(4) {
		segs = append(segs, withV2Content(genSegment(100+seed, int(1+seed))))
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

// withValidChecksum returns data with its checksums recomputed (the
// trailer, and a version 2 header's own), so that the fuzzer's mutations
// reach the header and payload decoders instead of stopping at a checksum.
func withValidChecksum(data []byte) []byte {
	if len(data) < 20 {
		return data
	}
	b := bytes.Clone(data)
	if b[4] == 2 {
		return fixChecksums(b)
	}
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// knownDecodeError requires err to be a *SegmentError of a known kind.
func knownDecodeError(t *testing.T, err error) {
	t.Helper()
	var se *dcbackup.SegmentError
	require.ErrorAs(t, err, &se)
	require.True(t, errors.Is(err, dcbackup.ErrCorruptSegment) ||
		errors.Is(err, dcbackup.ErrUnsupportedSegmentVersion) ||
		errors.Is(err, dcbackup.ErrSegmentTooLarge) ||
		errors.Is(err, dcbackup.ErrNoKey), "unexpected error kind: %v", err)
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
				knownDecodeError(t, err)
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

// encryptedFuzzSeeds are small segments encrypted to the test recipient
// A (and B).
func encryptedFuzzSeeds(t testing.TB) [][]byte {
	_, recA := testKey(t, testIdentityA)
	_, recB := testKey(t, testIdentityB)
	var out [][]byte
	for i, seg := range []*dcbackup.Segment{
		withV2Content(genSegment(200, 1)), withV2Content(genSegment(201, 3)), {DB: "empty", StartT: 1, EndT: 2},
	} {
		recipients := []age.Recipient{recA}
		if i == 1 {
			recipients = append(recipients, recB)
		}
		for _, c := range []dcbackup.Compression{dcbackup.CompressionZstd, dcbackup.CompressionNone} {
			data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{Compression: c, Recipients: recipients})
			require.NoError(t, err)
			out = append(out, data)
		}
	}
	return out
}

// FuzzDecryptSegment feeds arbitrary bytes, most of them mutations of
// encrypted segments, to a decoder holding identity A: as is and with
// their checksums fixed, so that mutations reach the header, age's
// parsing and authentication, and the header digest. It must never
// panic; it must fail with a *SegmentError of a known kind, or return a
// segment that survives an encrypted round trip unchanged.
func FuzzDecryptSegment(f *testing.F) {
	for _, s := range encryptedFuzzSeeds(f) {
		f.Add(s)
	}
	idA, recA := testKey(f, testIdentityA)
	dec, err := dcbackup.NewSegmentDecoder(dcbackup.DecodeOptions{MaxDecodedBytes: 4 << 20, Identities: []age.Identity{idA}})
	require.NoError(f, err)
	enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{Recipients: []age.Recipient{recA}})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, withValidChecksum(data)} {
			seg, err := dec.Decode(in, dcbackup.SegmentInfo{})
			if err != nil {
				knownDecodeError(t, err)
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

// TestWriteFuzzCorpus adds the seeds to testdata/fuzz (the corpus of
// FuzzDecodeSegment keeps the version 1 seeds it had) when
// DCBACKUP_WRITE_FUZZ_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("DCBACKUP_WRITE_FUZZ_CORPUS") != "1" {
		t.Skip("set DCBACKUP_WRITE_FUZZ_CORPUS=1 to regenerate the fuzz corpus")
	}
	write := func(target, name string, s []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	for i, s := range fuzzSeeds(t) {
		write("FuzzDecodeSegment", fmt.Sprintf("v2-seed-%02d", i), s)
	}
	for i, s := range encryptedFuzzSeeds(t) {
		write("FuzzDecryptSegment", fmt.Sprintf("seed-%02d", i), s)
	}
}
