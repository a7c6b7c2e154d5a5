package dcbackup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// frameRaw frames raw payload bytes as a version 1 segment with a valid
// checksum, as the version 1 encoder did, so that tests reach the checks
// behind the checksum.
func frameRaw(t *testing.T, version byte, raw []byte) []byte {
	t.Helper()
	return frameV1Bytes(version, frameCompressionNone, uint64(len(raw)), raw)
}

func frameV1Bytes(version, compression byte, rawLen uint64, stored []byte) []byte {
	out := make([]byte, frameV1HeaderLen, frameV1HeaderLen+len(stored)+frameTrailerLen)
	copy(out, frameMagic)
	out[4], out[5], out[6] = version, compression, checksumCRC32C
	binary.LittleEndian.PutUint64(out[8:], rawLen)
	out = append(out, stored...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, newCRCTable()))
}

func framePayload(t *testing.T, p *segmentPayloadV1) []byte {
	t.Helper()
	em, err := newSegmentEncMode()
	require.NoError(t, err)
	raw, err := em.Marshal(p)
	require.NoError(t, err)
	return frameRaw(t, 1, raw)
}

func validPayload() *segmentPayloadV1 {
	return &segmentPayloadV1{
		DB: "db", StartT: 10, EndT: 20, TxCount: 1, DatomCount: 1,
		Attrs:          []attrRecord{{ID: 50, Ident: "db/txInstant", ValueType: uint8(datomic.TypeInstant), Cardinality: 1}},
		segmentColumns: segmentColumns{TxCol: []byte{0, 1}, OpCol: []byte{eModeTx << 1}, IntCol: []byte{2}},
	}
}

func TestSegmentFutureVersion(t *testing.T) {
	p := validPayload()
	_, err := DecodeSegment(framePayload(t, p), SegmentInfo{}, DecodeOptions{})
	require.NoError(t, err)
	data := frameRaw(t, SegmentFormatVersion+1, []byte("anything a future version writes"))
	_, err = DecodeSegment(data, SegmentInfo{StartT: 10, EndT: 20}, DecodeOptions{})
	require.ErrorIs(t, err, ErrUnsupportedSegmentVersion)
	require.NotErrorIs(t, err, ErrCorruptSegment)
	require.Contains(t, err.Error(), "[10, 20)")
	require.Contains(t, err.Error(), "upgrade")
	data = frameRaw(t, 0, []byte("x"))
	_, err = DecodeSegment(data, SegmentInfo{}, DecodeOptions{})
	require.ErrorIs(t, err, ErrCorruptSegment)
}

// TestSegmentDecodeValidates reaches each check of the version 1 payload
// (shared with version 2: dictionary and columns) behind a valid checksum.
func TestSegmentDecodeValidates(t *testing.T) {
	for name, mutate := range map[string]func(p *segmentPayloadV1){
		"bad db name":    func(p *segmentPayloadV1) { p.DB = "a/b" },
		"empty range":    func(p *segmentPayloadV1) { p.EndT = p.StartT },
		"t beyond range": func(p *segmentPayloadV1) { p.TxCol = []byte{10, 1} },
		"t not increasing": func(p *segmentPayloadV1) {
			p.TxCount, p.DatomCount, p.TxCol, p.OpCol, p.IntCol = 2, 2, []byte{0, 1, 0, 1}, []byte{2, 2}, []byte{2, 2}
		},
		"too many txs": func(p *segmentPayloadV1) { p.TxCount = 2 },
		"t overflows": func(p *segmentPayloadV1) {
			p.StartT, p.EndT, p.TxCount, p.DatomCount = 0, math.MaxInt64, 2, 2
			p.TxCol = binary.AppendUvarint(binary.AppendUvarint(nil, math.MaxInt64-2), 1)
			p.TxCol = binary.AppendUvarint(binary.AppendUvarint(p.TxCol, math.MaxInt64), 1)
			p.OpCol, p.IntCol = []byte{eModeTx << 1, eModeTx << 1}, []byte{2, 2}
		},
		"t at end":           func(p *segmentPayloadV1) { p.TxCol = []byte{10, 1} },
		"too many datoms":    func(p *segmentPayloadV1) { p.DatomCount = 2 },
		"tx datoms overflow": func(p *segmentPayloadV1) { p.TxCol = []byte{0, 2} },
		"unknown attribute":  func(p *segmentPayloadV1) { p.OpCol = []byte{1<<3 | eModeTx<<1} },
		"bad e mode":         func(p *segmentPayloadV1) { p.OpCol = []byte{3 << 1} },
		"short values":       func(p *segmentPayloadV1) { p.IntCol = nil },
		"trailing values":    func(p *segmentPayloadV1) { p.IntCol = []byte{2, 2} },
		"trailing e":         func(p *segmentPayloadV1) { p.ECol = []byte{2} },
		"duplicate attr":     func(p *segmentPayloadV1) { p.Attrs = append(p.Attrs, p.Attrs[0]) },
		"fn in version 1":    func(p *segmentPayloadV1) { p.Attrs[0].ValueType = 16 },
		"bad value type":     func(p *segmentPayloadV1) { p.Attrs[0].ValueType = 17 },
		"bad cardinality":    func(p *segmentPayloadV1) { p.Attrs[0].Cardinality = 3 },
		"bad flags":          func(p *segmentPayloadV1) { p.Attrs[0].Flags = 0x80 },
		"bad tuple type":     func(p *segmentPayloadV1) { p.Attrs[0].TupleTypes = []byte{15} },
		"duplicate ident": func(p *segmentPayloadV1) {
			p.Idents = []identRecord{{ID: 1, Ident: "a"}, {ID: 1, Ident: "b"}}
		},
		"bad boolean": func(p *segmentPayloadV1) {
			p.Attrs[0].ValueType = uint8(datomic.TypeBoolean)
			p.IntCol = []byte{2}
		},
		"bad tuple tag": func(p *segmentPayloadV1) {
			p.Attrs[0].ValueType = uint8(datomic.TypeTuple)
			p.IntCol = []byte{1, 15}
		},
		"fn tuple tag": func(p *segmentPayloadV1) {
			p.Attrs[0].ValueType = uint8(datomic.TypeTuple)
			p.IntCol = []byte{1, 16, 0, 0, 0, 0, 0}
		},
		"huge tuple": func(p *segmentPayloadV1) {
			p.Attrs[0].ValueType = uint8(datomic.TypeTuple)
			p.IntCol = binary.AppendUvarint(nil, 1<<40)
		},
		"huge string": func(p *segmentPayloadV1) {
			p.Attrs[0].ValueType = uint8(datomic.TypeString)
			p.IntCol = binary.AppendUvarint(nil, 1<<62)
		},
	} {
		p := validPayload()
		mutate(p)
		_, err := DecodeSegment(framePayload(t, p), SegmentInfo{}, DecodeOptions{})
		require.ErrorIs(t, err, ErrCorruptSegment, name)
	}
	// Not CBOR, or not the expected structure.
	for _, raw := range [][]byte{{0xff}, {0x80}, {0xa0}, {0x9f, 0xff}} {
		_, err := DecodeSegment(frameRaw(t, 1, raw), SegmentInfo{}, DecodeOptions{})
		require.ErrorIs(t, err, ErrCorruptSegment)
	}
}

// v2Parts are the parts of a version 2 segment, to build segments that an
// encoder would not write.
type v2Parts struct {
	compression, encryption byte
	header                  headerRecord
	raw                     []byte // the payload, before compression
	stored                  []byte // the payload as stored (default: raw)
	digest                  []byte // default: the header's SHA-256
	storedLenLie            bool   // write a stored length one too large
}

// build frames the parts with valid checksums and the right stored length.
func (v *v2Parts) build(t *testing.T) []byte {
	t.Helper()
	em, err := newSegmentEncMode()
	require.NoError(t, err)
	stored := v.stored
	if stored == nil {
		stored = v.raw
	}
	if v.header.RawLen == 0 {
		v.header.RawLen = uint64(len(v.raw))
	}
	var hdr []byte
	for {
		hdr, err = marshalHeader(nil, em, &v.header)
		require.NoError(t, err)
		n := uint64(frameV2PrefixLen + len(hdr) + 4 + headerDigestLen + len(stored) + frameTrailerLen)
		if n == v.header.StoredLen {
			break
		}
		v.header.StoredLen = n
	}
	if v.storedLenLie {
		v.header.StoredLen++
		hdr, err = marshalHeader(nil, em, &v.header)
		require.NoError(t, err)
	}
	out := make([]byte, frameV2PrefixLen)
	putFrameV2Prefix(out, v.compression, v.encryption, len(hdr))
	out = append(out, hdr...)
	table := newCRCTable()
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, table))
	digest := v.digest
	if digest == nil {
		d := sha256.Sum256(out[:frameV2PrefixLen+len(hdr)])
		digest = d[:]
	}
	out = append(out, digest...)
	out = append(out, stored...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, table))
}

// validV2 returns the parts of a valid version 2 segment: one transaction,
// t 10, with one datom.
func validV2(t *testing.T) *v2Parts {
	t.Helper()
	seg := &Segment{DB: "db", StartT: 10, EndT: 20,
		Attrs: map[int64]datomic.Attribute{50: {ID: 50, Ident: "db/txInstant", ValueType: datomic.TypeInstant, Cardinality: 1}},
		Txs:   []datomic.Tx{{T: 10, Datoms: []datomic.Datom{{E: datomic.TxID(10), A: 50, V: time.UnixMilli(1).UTC(), Tx: datomic.TxID(10), Added: true}}}}}
	enc, err := NewSegmentEncoder(EncodeOptions{Compression: CompressionNone})
	require.NoError(t, err)
	data, err := enc.Encode(seg)
	require.NoError(t, err)
	hl := int(binary.LittleEndian.Uint32(data[8:12]))
	var r headerRecord
	dm, err := newSegmentDecMode()
	require.NoError(t, err)
	require.NoError(t, dm.Unmarshal(data[frameV2PrefixLen:frameV2PrefixLen+hl], &r))
	raw := data[frameV2PrefixLen+hl+4+headerDigestLen : len(data)-frameTrailerLen]
	v := &v2Parts{header: r, raw: bytes.Clone(raw)}
	require.Equal(t, data, v.build(t), "the parts rebuild the encoder's bytes")
	return v
}

// TestSegmentV2HeaderValidates reaches each check of a version 2 header
// and of its agreement with the payload, behind valid checksums.
func TestSegmentV2HeaderValidates(t *testing.T) {
	_, err := DecodeSegment(validV2(t).build(t), SegmentInfo{}, DecodeOptions{})
	require.NoError(t, err)
	for name, mutate := range map[string]func(v *v2Parts){
		"bad db name":          func(v *v2Parts) { v.header.DB = "a/b" },
		"empty range":          func(v *v2Parts) { v.header.EndT = v.header.StartT },
		"negative start":       func(v *v2Parts) { v.header.StartT = -1 },
		"more txs than range":  func(v *v2Parts) { v.header.EndT, v.header.TxCount = 11, 2 },
		"tx count":             func(v *v2Parts) { v.header.TxCount = 0 },
		"datom count":          func(v *v2Parts) { v.header.DatomCount = 2 },
		"raw length zero":      func(v *v2Parts) { v.header.RawLen = 0; v.raw = nil },
		"raw length":           func(v *v2Parts) { v.header.RawLen++ },
		"stored length":        func(v *v2Parts) { v.storedLenLie = true },
		"lineage length":       func(v *v2Parts) { v.header.Lineage = v.header.Lineage[:15] },
		"lineage":              func(v *v2Parts) { v.header.Lineage = make([]byte, 16) },
		"prev in range":        func(v *v2Parts) { v.header.Prev = linkRecord{T: 10, Digest: make([]byte, 16)} },
		"prev below -1":        func(v *v2Parts) { v.header.Prev = linkRecord{T: -2, Digest: []byte{}} },
		"prev none, digest":    func(v *v2Parts) { v.header.Prev = linkRecord{T: -1, Digest: make([]byte, 16)} },
		"prev short digest":    func(v *v2Parts) { v.header.Prev = linkRecord{T: 5, Digest: make([]byte, 8)} },
		"last beyond range":    func(v *v2Parts) { v.header.Last.T = 20 },
		"last other digest":    func(v *v2Parts) { v.header.Last.Digest = make([]byte, 16) },
		"last before range":    func(v *v2Parts) { v.header.Last = linkRecord{T: -1, Digest: []byte{}} },
		"features":             func(v *v2Parts) { v.header.Features = uint64(FeatureBytes) },
		"unknown features":     func(v *v2Parts) { v.header.Features = 1 << 20 },
		"longest string":       func(v *v2Parts) { v.header.MaxStr = 1 },
		"longest tuple string": func(v *v2Parts) { v.header.MaxTupleStr = 1 },
		"string beyond raw":    func(v *v2Parts) { v.header.MaxStr = 1 << 40 },
		"recipients, plain":    func(v *v2Parts) { v.header.Recipients = []string{"00"} },
		"encrypted, none":      func(v *v2Parts) { v.encryption = frameEncryptionAge },
		"encryption 2":         func(v *v2Parts) { v.encryption = 2 },
		"compression 2":        func(v *v2Parts) { v.compression = 2 },
		"digest":               func(v *v2Parts) { v.digest = make([]byte, 32) },
		"payload not cbor":     func(v *v2Parts) { v.raw = bytes.Repeat([]byte{0xff}, len(v.raw)) },
		"zstd, not zstd":       func(v *v2Parts) { v.compression = frameCompressionZstd },
		"payload short":        func(v *v2Parts) { v.raw = v.raw[:len(v.raw)-1]; v.header.RawLen-- },
	} {
		v := validV2(t)
		mutate(v)
		_, err := DecodeSegment(v.build(t), SegmentInfo{}, DecodeOptions{})
		require.ErrorIs(t, err, ErrCorruptSegment, name)
	}
	// A header that does not decode: a length of 0, too long, or not CBOR.
	data := validV2(t).build(t)
	for name, edit := range map[string]func(b []byte) []byte{
		"header length 0":     func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 0); return b },
		"header length large": func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 1<<16+1); return b },
		"header not cbor": func(b []byte) []byte {
			b[12] = 0xff
			binary.LittleEndian.PutUint32(b[12+binary.LittleEndian.Uint32(b[8:]):], crc32.Checksum(b[:12+binary.LittleEndian.Uint32(b[8:])], newCRCTable()))
			return b
		},
	} {
		b := edit(bytes.Clone(data))
		b = fixTrailer(b)
		_, err := DecodeSegment(b, SegmentInfo{}, DecodeOptions{})
		require.ErrorIs(t, err, ErrCorruptSegment, name)
		_, err = DecodeSegmentHeader(b, SegmentInfo{})
		require.ErrorIs(t, err, ErrCorruptSegment, name)
	}
}

func fixTrailer(b []byte) []byte {
	n := len(b) - frameTrailerLen
	binary.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], newCRCTable()))
	return b
}

// bomb returns a zstd frame that decompresses to n zero bytes: RLE blocks
// of 128 KiB, 4 bytes each, so 32 KiB per GiB.
func bomb(n int) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0} // magic; single segment, 8-byte content size
	b = binary.LittleEndian.AppendUint64(b, uint64(n))
	const block = 128 << 10
	for n > 0 {
		size := min(n, block)
		n -= size
		h := uint32(1<<1 | size<<3) // RLE block
		if n == 0 {
			h |= 1 // last block
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16), 0)
	}
	return b
}

// TestSegmentBombRefused: segments whose checksums verify but whose
// payload would decompress to far more than their size are refused before
// anything is decompressed, whatever DecodeOptions.MaxDecodedBytes allows.
func TestSegmentBombRefused(t *testing.T) {
	const gib = 1 << 30
	payload := bomb(gib)
	t.Logf("a zstd frame of %d bytes decompresses to %d", len(payload), gib)
	zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	require.NoError(t, err)
	n, err := zd.DecodeAll(bomb(3<<20), nil)
	require.NoError(t, err)
	require.Len(t, n, 3<<20, "the bomb is a real zstd frame")
	zd.Close()

	v1 := frameV1Bytes(1, frameCompressionZstd, gib, payload)
	v2parts := validV2(t)
	v2parts.compression, v2parts.header.RawLen, v2parts.stored = frameCompressionZstd, gib, payload
	v2 := v2parts.build(t)
	for name, data := range map[string][]byte{"version 1": v1, "version 2": v2} {
		for _, limit := range []int64{0, 2 * gib} {
			dec, err := NewSegmentDecoder(DecodeOptions{MaxDecodedBytes: limit})
			require.NoError(t, err)
			var derr error
			alloc := allocated(func() { _, derr = dec.Decode(data, SegmentInfo{}) })
			require.ErrorIs(t, derr, ErrSegmentTooLarge, "%s, limit %d", name, limit)
			require.Less(t, alloc, uint64(1<<20), "%s, limit %d: refused before decompressing", name, limit)
			t.Logf("%s, limit %d: %v (%d bytes allocated)", name, limit, derr, alloc)
			dec.Close()
		}
	}

	// A segment that understates its raw length: decompression stops at
	// the stated length.
	small := bomb(gib)
	v1 = frameV1Bytes(1, frameCompressionZstd, 1000, small)
	dec, err := NewSegmentDecoder(DecodeOptions{})
	require.NoError(t, err)
	defer dec.Close()
	var derr error
	alloc := allocated(func() { _, derr = dec.Decode(v1, SegmentInfo{}) })
	require.ErrorIs(t, derr, ErrCorruptSegment)
	require.Less(t, alloc, uint64(16<<20), "decompression bounded by the stated length")
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
