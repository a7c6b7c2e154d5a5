package dcbackup_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

func TestSegmentRoundTripProperty(t *testing.T) {
	enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{})
	require.NoError(t, err)
	defer enc.Close()
	encNone, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone})
	require.NoError(t, err)
	defer encNone.Close()
	dec, err := dcbackup.NewSegmentDecoder(dcbackup.DecodeOptions{})
	require.NoError(t, err)
	defer dec.Close()
	for seed := range uint64(120) {
		seg := genSegment(seed, int(seed%40))
		for _, e := range []*dcbackup.SegmentEncoder{enc, encNone} {
			data, err := e.Encode(seg)
			require.NoError(t, err, "seed %d", seed)
			got, err := dec.Decode(data, seg.Info())
			require.NoError(t, err, "seed %d", seed)
			requireSameSegment(t, seg, got)
			assert.Equal(t, seg.DatomCount(), got.DatomCount())
		}
	}
}

func TestSegmentEncodeDeterministic(t *testing.T) {
	seg := genSegment(7, 30)
	a, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{})
	require.NoError(t, err)
	b, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, a, b, "maps are written in id order")
}

func TestSegmentEmptyAndFirstDatomEntityZero(t *testing.T) {
	seg := &dcbackup.Segment{DB: "x", StartT: 5, EndT: 6}
	data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{})
	require.NoError(t, err)
	got, err := dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{})
	require.NoError(t, err)
	assert.Empty(t, got.Txs)
	assert.Empty(t, got.Attrs)

	// [0 13 139] on :db.part/db, as in a real attribute installation.
	tx := datomic.TxID(5)
	seg = &dcbackup.Segment{DB: "x", StartT: 5, EndT: 6,
		Attrs: map[int64]datomic.Attribute{13: {ID: 13, Ident: "db.install/attribute", ValueType: datomic.TypeRef, Cardinality: datomic.CardinalityMany}},
		Txs:   []datomic.Tx{{T: 5, Datoms: []datomic.Datom{{E: 0, A: 13, V: int64(139), Tx: tx, Added: true}, {E: tx, A: 13, V: int64(0), Tx: tx}}}},
	}
	data, err = dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{})
	require.NoError(t, err)
	got, err = dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{})
	require.NoError(t, err)
	seg.Idents = map[int64]datomic.Keyword{}
	requireSameSegment(t, seg, got)
}

func TestSegmentEncodeRefusesInvalid(t *testing.T) {
	tx := datomic.TxID(10)
	attrs := map[int64]datomic.Attribute{50: {ID: 50, Ident: "db/txInstant", ValueType: datomic.TypeInstant}}
	good := func() *dcbackup.Segment {
		return &dcbackup.Segment{DB: "db", StartT: 10, EndT: 20, Attrs: attrs,
			Txs: []datomic.Tx{{T: 10, Datoms: []datomic.Datom{{E: tx, A: 50, V: time.UnixMilli(1e12).UTC(), Tx: tx, Added: true}}}}}
	}
	for name, mutate := range map[string]func(s *dcbackup.Segment){
		"bad db name":       func(s *dcbackup.Segment) { s.DB = "../x" },
		"empty range":       func(s *dcbackup.Segment) { s.EndT = s.StartT },
		"t before range":    func(s *dcbackup.Segment) { s.StartT = 11 },
		"t at end of range": func(s *dcbackup.Segment) { s.StartT, s.EndT = 5, 10 },
		"t not increasing":  func(s *dcbackup.Segment) { s.Txs = append(s.Txs, s.Txs[0]) },
		"wrong tx":          func(s *dcbackup.Segment) { s.Txs[0].Datoms[0].Tx = 1 },
		"unknown attribute": func(s *dcbackup.Segment) { s.Txs[0].Datoms[0].A = 51 },
		"wrong value type":  func(s *dcbackup.Segment) { s.Txs[0].Datoms[0].V = "2020" },
		"nil value":         func(s *dcbackup.Segment) { s.Txs[0].Datoms[0].V = nil },
		"attr id mismatch": func(s *dcbackup.Segment) {
			s.Attrs = map[int64]datomic.Attribute{50: {ID: 51, ValueType: datomic.TypeInstant}}
		},
		"invalid value type": func(s *dcbackup.Segment) {
			s.Attrs = map[int64]datomic.Attribute{50: {ID: 50, ValueType: 99}}
		},
		"nil bigint": func(s *dcbackup.Segment) {
			s.Attrs = map[int64]datomic.Attribute{50: {ID: 50, ValueType: datomic.TypeBigInt}}
			s.Txs[0].Datoms[0].V = (*big.Int)(nil)
		},
		"nested tuple": func(s *dcbackup.Segment) {
			s.Attrs = map[int64]datomic.Attribute{50: {ID: 50, ValueType: datomic.TypeTuple}}
			s.Txs[0].Datoms[0].V = datomic.Tuple{datomic.Tuple{int64(1)}}
		},
	} {
		s := good()
		mutate(s)
		_, err := dcbackup.EncodeSegment(s, dcbackup.EncodeOptions{})
		require.ErrorIs(t, err, dcbackup.ErrInvalidSegment, name)
	}
	_, err := dcbackup.EncodeSegment(good(), dcbackup.EncodeOptions{})
	require.NoError(t, err)
	_, err = dcbackup.EncodeSegment(nil, dcbackup.EncodeOptions{})
	require.ErrorIs(t, err, dcbackup.ErrInvalidSegment)
}

func TestSegmentDecodeChecksInfoAndDB(t *testing.T) {
	seg := genSegment(3, 10)
	data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{})
	require.NoError(t, err)
	for _, info := range []dcbackup.SegmentInfo{
		{StartT: seg.StartT, EndT: seg.EndT + 1},
		{StartT: seg.StartT - 1, EndT: seg.EndT},
		{StartT: seg.EndT, EndT: seg.EndT + 100},
	} {
		_, err := dcbackup.DecodeSegment(data, info, dcbackup.DecodeOptions{})
		require.ErrorIs(t, err, dcbackup.ErrCorruptSegment, "info %s", info)
		assert.Contains(t, err.Error(), info.String())
		assert.Contains(t, err.Error(), seg.DB)
	}
	// The zero SegmentInfo skips the range check.
	_, err = dcbackup.DecodeSegment(data, dcbackup.SegmentInfo{}, dcbackup.DecodeOptions{})
	require.NoError(t, err)
	// Size is ignored.
	_, err = dcbackup.DecodeSegment(data, dcbackup.SegmentInfo{StartT: seg.StartT, EndT: seg.EndT, Size: 1}, dcbackup.DecodeOptions{})
	require.NoError(t, err)

	_, err = dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{DB: "other"})
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
	require.ErrorIs(t, err, dcbackup.ErrWrongDatabase)
	assert.Contains(t, err.Error(), `"other"`)
	assert.Contains(t, err.Error(), seg.DB)
	_, err = dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{DB: seg.DB})
	require.NoError(t, err)
}

func TestSegmentDecodeSizeLimit(t *testing.T) {
	seg := genSegment(4, 40)
	for _, c := range []dcbackup.Compression{dcbackup.CompressionZstd, dcbackup.CompressionNone} {
		data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{Compression: c})
		require.NoError(t, err)
		_, err = dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{MaxDecodedBytes: 100})
		require.ErrorIs(t, err, dcbackup.ErrSegmentTooLarge, "%s", c)
		var se *dcbackup.SegmentError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, seg.Info(), se.Seg)
	}
}

// TestSegmentCorruptionDetected flips every byte (two ways) and truncates at
// every length of real segments: every change must be reported as corrupt,
// with the segment named, and never decode.
func TestSegmentCorruptionDetected(t *testing.T) {
	total := 0
	for _, c := range []dcbackup.Compression{dcbackup.CompressionZstd, dcbackup.CompressionNone} {
		seg := genSegment(11, 12)
		data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{Compression: c})
		require.NoError(t, err)
		dec, err := dcbackup.NewSegmentDecoder(dcbackup.DecodeOptions{DB: seg.DB})
		require.NoError(t, err)
		name := seg.Info().String()
		check := func(what func() string, bad []byte) {
			t.Helper()
			total++
			_, err := dec.Decode(bad, seg.Info())
			if !errors.Is(err, dcbackup.ErrCorruptSegment) {
				t.Fatalf("%s %s: got %v, want a corrupt segment error", c, what(), err)
			}
			if msg := err.Error(); !strings.Contains(msg, name) || !strings.Contains(msg, seg.DB) {
				t.Fatalf("%s %s: error %q does not name the segment", c, what(), msg)
			}
		}
		bad := make([]byte, len(data))
		for i := range data {
			for _, mask := range []byte{0x01, 0xff} {
				copy(bad, data)
				bad[i] ^= mask
				check(func() string { return fmt.Sprintf("flip %#x at %d", mask, i) }, bad)
			}
		}
		for n := range len(data) {
			check(func() string { return fmt.Sprintf("truncation to %d", n) }, data[:n])
		}
		// The intact segment still decodes with the same decoder.
		_, err = dec.Decode(data, seg.Info())
		require.NoError(t, err)
		dec.Close()
		t.Logf("%s segment of %d bytes: %d flips and %d truncations detected", c, len(data), 2*len(data), len(data))
	}
	t.Logf("%d corruptions detected in all", total)
}

func TestSegmentErrorType(t *testing.T) {
	_, err := dcbackup.DecodeSegment([]byte("short"), dcbackup.SegmentInfo{StartT: 1, EndT: 2}, dcbackup.DecodeOptions{DB: "mydb"})
	var se *dcbackup.SegmentError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "mydb", se.DB)
	assert.Equal(t, dcbackup.SegmentInfo{StartT: 1, EndT: 2}, se.Seg)
	assert.True(t, errors.Is(err, dcbackup.ErrCorruptSegment))
	assert.Contains(t, err.Error(), `segment [1, 2) of database "mydb"`)
}

// TestSegmentFormatExample pins the example of SEGMENT-FORMAT.md, and
// recomputes its hashes and checksums from the definitions given there.
func TestSegmentFormatExample(t *testing.T) {
	tx := datomic.TxID(10)
	inst := time.UnixMilli(1).UTC()
	seg := &dcbackup.Segment{DB: "db", StartT: 10, EndT: 20,
		Lineage: dcbackup.Lineage{DatabaseID: "db-1", GenesisT: 10, GenesisInstant: inst},
		Attrs:   map[int64]datomic.Attribute{50: {ID: 50, Ident: "db/txInstant", ValueType: datomic.TypeInstant, Cardinality: datomic.CardinalityOne}},
		Txs:     []datomic.Tx{{T: 10, Datoms: []datomic.Datom{{E: tx, A: 50, V: inst, Tx: tx, Added: true}}}}}
	data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone})
	require.NoError(t, err)

	// The definitions of section 6.
	uv := binary.AppendUvarint
	zz := func(b []byte, n int64) []byte { return binary.AppendUvarint(b, uint64(n<<1)^uint64(n>>63)) }
	k := []byte("dcbackup lineage key v2\x00")
	k = uv(k, uint64(len("db-1")))
	k = append(k, "db-1"...)
	k = zz(zz(k, 10), 1)
	key := sha256.Sum256(k)
	fp := sha256.Sum256(append([]byte("dcbackup lineage v2\x00"), key[:]...))
	c := zz(zz(nil, tx), 50)
	c = append(c, 1, byte(datomic.TypeInstant))
	c = append(uv(c, 1), 2) // intCol: zigzag(1 ms)
	c = uv(c, 0)            // byteCol: nothing
	m := uv(uv(nil, 10), 1)
	m = append(uv(m, uint64(len(c))), c...)
	mac := hmac.New(sha256.New, key[:])
	mac.Write(m)
	digest := mac.Sum(nil)[:16]
	headerDigest := sha256.Sum256(data[:67])
	crc := func(b []byte) string {
		return hex.EncodeToString(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))))
	}
	assert.Equal(t, "b13c7fa493a426b0eea485f1fa41bf2a", hex.EncodeToString(fp[:16]))
	assert.Equal(t, "e89adfd1bad20fc46c100c7931c4f3ce", hex.EncodeToString(digest))
	assert.Equal(t, dcbackup.LineageFingerprint(fp[:16]), seg.Lineage.Fingerprint())

	want := "4443425302000100" + "37000000" +
		"8e" + "626462" + "0a140101" + "182b" + "1896" +
		"50" + hex.EncodeToString(fp[:16]) +
		"822040" + "820a50" + hex.EncodeToString(digest) +
		"000000" + "80" +
		crc(data[:67]) +
		hex.EncodeToString(headerDigest[:]) +
		"8b" + "6464622d31" + "0a01" + "80" +
		"818918326c" + hex.EncodeToString([]byte("db/txInstant")) + "0b01000080" + "0040" +
		"80" + "420001" + "4103" + "40" + "4102" + "40" +
		crc(data[:146])
	assert.Equal(t, want, hex.EncodeToString(data))
	assert.Equal(t, "6cf4c82b", crc(data[:67]))
	assert.Equal(t, "57a5b85f40940ba11b1c873b6d62bdd2390bde291ee510cddb9fc603c295ed27", hex.EncodeToString(headerDigest[:]))
	assert.Equal(t, "0bbde19b", crc(data[:146]))
	assert.Len(t, data, 150)
	assert.Equal(t, uint32(0xE3069283), crc32.Checksum([]byte("123456789"), crc32.MakeTable(crc32.Castagnoli)))
	got, err := dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, dcbackup.TxLink{T: 10, Digest: dcbackup.TxDigest(digest)}, got.Last)
}
