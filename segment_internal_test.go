package dcbackup

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// frameRaw frames raw payload bytes with a valid checksum, as the encoder
// would, so that tests reach the checks behind the checksum.
func frameRaw(t *testing.T, version byte, raw []byte) []byte {
	t.Helper()
	out := make([]byte, frameHeaderLen, frameHeaderLen+len(raw)+frameTrailerLen)
	putFrameHeader(out, frameCompressionNone, len(raw))
	out[4] = version
	out = append(out, raw...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crc32.MakeTable(crc32.Castagnoli)))
}

func framePayload(t *testing.T, p *segmentPayload) []byte {
	t.Helper()
	em, err := newSegmentEncMode()
	require.NoError(t, err)
	raw, err := em.Marshal(p)
	require.NoError(t, err)
	return frameRaw(t, SegmentFormatVersion, raw)
}

func validPayload() *segmentPayload {
	return &segmentPayload{
		DB: "db", StartT: 10, EndT: 20, TxCount: 1, DatomCount: 1,
		Attrs: []attrRecord{{ID: 50, Ident: "db/txInstant", ValueType: uint8(datomic.TypeInstant), Cardinality: 1}},
		TxCol: []byte{0, 1}, OpCol: []byte{eModeTx << 1}, IntCol: []byte{2},
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

// TestSegmentDecodeValidates reaches each check behind a valid checksum.
func TestSegmentDecodeValidates(t *testing.T) {
	for name, mutate := range map[string]func(p *segmentPayload){
		"bad db name":    func(p *segmentPayload) { p.DB = "a/b" },
		"empty range":    func(p *segmentPayload) { p.EndT = p.StartT },
		"t beyond range": func(p *segmentPayload) { p.TxCol = []byte{10, 1} },
		"t not increasing": func(p *segmentPayload) {
			p.TxCount, p.DatomCount, p.TxCol, p.OpCol, p.IntCol = 2, 2, []byte{0, 1, 0, 1}, []byte{2, 2}, []byte{2, 2}
		},
		"too many txs": func(p *segmentPayload) { p.TxCount = 2 },
		"t overflows": func(p *segmentPayload) {
			p.StartT, p.EndT, p.TxCount, p.DatomCount = 0, math.MaxInt64, 2, 2
			p.TxCol = binary.AppendUvarint(binary.AppendUvarint(nil, math.MaxInt64-2), 1)
			p.TxCol = binary.AppendUvarint(binary.AppendUvarint(p.TxCol, math.MaxInt64), 1)
			p.OpCol, p.IntCol = []byte{eModeTx << 1, eModeTx << 1}, []byte{2, 2}
		},
		"t at end":           func(p *segmentPayload) { p.TxCol = []byte{10, 1} },
		"too many datoms":    func(p *segmentPayload) { p.DatomCount = 2 },
		"tx datoms overflow": func(p *segmentPayload) { p.TxCol = []byte{0, 2} },
		"unknown attribute":  func(p *segmentPayload) { p.OpCol = []byte{1<<3 | eModeTx<<1} },
		"bad e mode":         func(p *segmentPayload) { p.OpCol = []byte{3 << 1} },
		"short values":       func(p *segmentPayload) { p.IntCol = nil },
		"trailing values":    func(p *segmentPayload) { p.IntCol = []byte{2, 2} },
		"trailing e":         func(p *segmentPayload) { p.ECol = []byte{2} },
		"duplicate attr":     func(p *segmentPayload) { p.Attrs = append(p.Attrs, p.Attrs[0]) },
		"bad value type":     func(p *segmentPayload) { p.Attrs[0].ValueType = 16 },
		"bad cardinality":    func(p *segmentPayload) { p.Attrs[0].Cardinality = 3 },
		"bad flags":          func(p *segmentPayload) { p.Attrs[0].Flags = 0x80 },
		"bad tuple type":     func(p *segmentPayload) { p.Attrs[0].TupleTypes = []byte{15} },
		"duplicate ident":    func(p *segmentPayload) { p.Idents = []identRecord{{ID: 1, Ident: "a"}, {ID: 1, Ident: "b"}} },
		"bad boolean": func(p *segmentPayload) {
			p.Attrs[0].ValueType = uint8(datomic.TypeBoolean)
			p.IntCol = []byte{2}
		},
		"bad tuple tag": func(p *segmentPayload) {
			p.Attrs[0].ValueType = uint8(datomic.TypeTuple)
			p.IntCol = []byte{1, 15}
		},
		"huge tuple": func(p *segmentPayload) {
			p.Attrs[0].ValueType = uint8(datomic.TypeTuple)
			p.IntCol = binary.AppendUvarint(nil, 1<<40)
		},
		"huge string": func(p *segmentPayload) {
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
		_, err := DecodeSegment(frameRaw(t, SegmentFormatVersion, raw), SegmentInfo{}, DecodeOptions{})
		require.ErrorIs(t, err, ErrCorruptSegment)
	}
}
