package dcbackup_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

// withV2Content adds what version 2 stores beyond version 1 to seg: a
// lineage, a previous transaction, renames and stored functions.
func withV2Content(seg *dcbackup.Segment) *dcbackup.Segment {
	seg.Lineage = dcbackup.Lineage{DatabaseID: "db-" + seg.DB, GenesisT: 3, GenesisInstant: time.UnixMilli(1546300800123).UTC()}
	if seg.StartT > 0 {
		seg.Prev = dcbackup.TxLink{T: seg.StartT - 1, Digest: dcbackup.TxDigest{1, 2, 3}}
	}
	seg.Renames = map[int64]datomic.Keyword{genFirstUser: "gen/renamed", genIdent: "db/ident"}
	seg.Attrs[300] = datomic.Attribute{ID: 300, Ident: "gen/fn", ValueType: datomic.TypeFn, Cardinality: datomic.CardinalityOne}
	for i := range seg.Txs {
		if i%3 != 0 {
			continue
		}
		tx := &seg.Txs[i]
		f := datomic.Fn{Lang: "clojure", Code: "(fn [db e] [[:db/add e :x/y 1]])", Requires: "[[clojure.string :as s]]"}
		if i%2 == 0 {
			f.Params = []datomic.Symbol{"db", "e"}
		}
		tx.Datoms = append(tx.Datoms, datomic.Datom{E: datomic.EntityID(datomic.PartUser, int64(i)), A: 300, V: f, Tx: tx.ID(), Added: true})
	}
	return seg
}

func TestSegmentV2RoundTrip(t *testing.T) {
	enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{})
	require.NoError(t, err)
	defer enc.Close()
	dec, err := dcbackup.NewSegmentDecoder(dcbackup.DecodeOptions{})
	require.NoError(t, err)
	defer dec.Close()
	for seed := range uint64(40) {
		seg := withV2Content(genSegment(seed, int(seed%30)))
		data, err := enc.Encode(seg)
		require.NoError(t, err)
		require.Equal(t, byte(dcbackup.SegmentFormatVersion), data[4])
		got, err := dec.Decode(data, seg.Info())
		require.NoError(t, err, "seed %d", seed)
		requireSameSegment(t, seg, got)
		assert.True(t, got.HasLinks())
		assert.Zero(t, seg.Last, "Encode leaves seg untouched")

		h := enc.LastHeader()
		assert.Equal(t, got.Header, h, "LastHeader is what the decoder reads")
		assert.Equal(t, int64(len(data)), h.StoredLen)
		assert.Equal(t, int64(len(seg.Txs)), h.TxCount)
		assert.Equal(t, int64(seg.DatomCount()), h.DatomCount)
		assert.Equal(t, seg.Lineage.Fingerprint(), h.Lineage)
		want := seg.Prev
		if want == (dcbackup.TxLink{}) {
			want = dcbackup.NoTx
		}
		if n := len(seg.Txs); n > 0 {
			want, err = dcbackup.NewTxDigester(seg.Lineage).Link(seg.Txs[n-1])
			require.NoError(t, err)
		}
		assert.Equal(t, want, h.Last)
		assert.Equal(t, want, got.Last)

		head, err := dcbackup.DecodeSegmentHeader(data[:min(len(data), dcbackup.SegmentHeadReadSize)], dcbackup.SegmentInfo{StartT: seg.StartT, EndT: seg.EndT, Size: int64(len(data))})
		require.NoError(t, err)
		assert.Equal(t, h, head)
	}
}

// TestSegmentZeroLineageAndPrev: what today's backup writes (no lineage,
// no previous link) encodes and decodes.
func TestSegmentZeroLineageAndPrev(t *testing.T) {
	seg := genSegment(9, 5)
	data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{})
	require.NoError(t, err)
	got, err := dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{})
	require.NoError(t, err)
	requireSameSegment(t, seg, got)
	assert.Equal(t, dcbackup.NoTx, got.Prev)
	assert.Equal(t, dcbackup.Lineage{}, got.Lineage)
	assert.Equal(t, dcbackup.Lineage{}.Fingerprint(), got.Header.Lineage)
}

func TestSegmentEncodeRefusesInvalidV2(t *testing.T) {
	tx := datomic.TxID(10)
	good := func() *dcbackup.Segment {
		return &dcbackup.Segment{DB: "db", StartT: 10, EndT: 20,
			Attrs: map[int64]datomic.Attribute{
				50: {ID: 50, Ident: "db/txInstant", ValueType: datomic.TypeInstant},
				60: {ID: 60, Ident: "x/tup", ValueType: datomic.TypeTuple, TupleType: datomic.TypeLong},
				61: {ID: 61, Ident: "x/fn", ValueType: datomic.TypeFn},
			},
			Txs: []datomic.Tx{{T: 10, Datoms: []datomic.Datom{{E: tx, A: 50, V: time.UnixMilli(1e12).UTC(), Tx: tx, Added: true}}}}}
	}
	for name, mutate := range map[string]func(s *dcbackup.Segment){
		"prev at start":   func(s *dcbackup.Segment) { s.Prev = dcbackup.TxLink{T: 10, Digest: dcbackup.TxDigest{1}} },
		"prev below -1":   func(s *dcbackup.Segment) { s.Prev = dcbackup.TxLink{T: -2} },
		"no prev, digest": func(s *dcbackup.Segment) { s.Prev = dcbackup.TxLink{T: -1, Digest: dcbackup.TxDigest{1}} },
		"fn in a tuple": func(s *dcbackup.Segment) {
			s.Txs[0].Datoms[0] = datomic.Datom{E: 1, A: 60, V: datomic.Tuple{datomic.Fn{}}, Tx: tx}
		},
		"string as fn":       func(s *dcbackup.Segment) { s.Txs[0].Datoms[0] = datomic.Datom{E: 1, A: 61, V: "(fn [])", Tx: tx} },
		"fn of another type": func(s *dcbackup.Segment) { s.Txs[0].Datoms[0] = datomic.Datom{E: 1, A: 50, V: datomic.Fn{}, Tx: tx} },
	} {
		s := good()
		mutate(s)
		_, err := dcbackup.EncodeSegment(s, dcbackup.EncodeOptions{})
		require.ErrorIs(t, err, dcbackup.ErrInvalidSegment, name)
	}
	s := good()
	s.Prev = dcbackup.TxLink{T: 9, Digest: dcbackup.TxDigest{9}}
	_, err := dcbackup.EncodeSegment(s, dcbackup.EncodeOptions{})
	require.NoError(t, err)
}

// TestSegmentFeatures checks each feature and the longest strings the
// header records, and that the decoder agrees.
func TestSegmentFeatures(t *testing.T) {
	const (
		aStr = iota + 100
		aBytes
		aTup
		aFn
		aFull
		aExcise
		aPreds
		aEntAttrs
		aEntPreds
		aRef
		aRefTup
	)
	attrs := map[int64]datomic.Attribute{
		aStr:      {ID: aStr, Ident: "x/str", ValueType: datomic.TypeString},
		aBytes:    {ID: aBytes, Ident: "x/bytes", ValueType: datomic.TypeBytes},
		aTup:      {ID: aTup, Ident: "x/tup", ValueType: datomic.TypeTuple, TupleTypes: []datomic.ValueType{datomic.TypeString, datomic.TypeBytes}},
		aFn:       {ID: aFn, Ident: "x/fn", ValueType: datomic.TypeFn},
		aFull:     {ID: aFull, Ident: "x/text", ValueType: datomic.TypeString, Fulltext: true},
		aExcise:   {ID: aExcise, Ident: "db.excise/attrs", ValueType: datomic.TypeRef},
		aPreds:    {ID: aPreds, Ident: "db.attr/preds", ValueType: datomic.TypeSymbol},
		aEntAttrs: {ID: aEntAttrs, Ident: "db.entity/attrs", ValueType: datomic.TypeKeyword},
		aEntPreds: {ID: aEntPreds, Ident: "db.entity/preds", ValueType: datomic.TypeSymbol},
		aRef:      {ID: aRef, Ident: "x/ref", ValueType: datomic.TypeRef},
		aRefTup:   {ID: aRefTup, Ident: "x/reftup", ValueType: datomic.TypeTuple, TupleType: datomic.TypeRef},
	}
	user := datomic.EntityID(datomic.PartUser, 1)
	named := datomic.EntityID(7, 1)
	cases := []struct {
		name   string
		datom  datomic.Datom
		want   dcbackup.Features
		maxStr int
		maxTup int
	}{
		{"plain string", datomic.Datom{E: user, A: aStr, V: "héllo"}, 0, 5, 0},
		{"astral string", datomic.Datom{E: user, A: aStr, V: "a😀"}, 0, 3, 0},
		{"bytes", datomic.Datom{E: user, A: aBytes, V: []byte{1}}, dcbackup.FeatureBytes, 0, 0},
		{"bytes in a tuple", datomic.Datom{E: user, A: aTup, V: datomic.Tuple{"日本語", []byte{1}}}, dcbackup.FeatureBytes, 0, 3},
		{"tuple without bytes", datomic.Datom{E: user, A: aTup, V: datomic.Tuple{"ab", nil}}, 0, 0, 2},
		{"fn", datomic.Datom{E: user, A: aFn, V: datomic.Fn{Lang: "clojure", Code: "(fn [])"}}, dcbackup.FeatureFunctions, 0, 0},
		{"fulltext", datomic.Datom{E: user, A: aFull, V: "abc"}, dcbackup.FeatureFulltext, 3, 0},
		{"excision", datomic.Datom{E: user, A: aExcise, V: int64(10)}, dcbackup.FeatureExcision, 0, 0},
		{"attribute predicates", datomic.Datom{E: user, A: aPreds, V: datomic.Symbol("x/ok?")}, dcbackup.FeatureAttrPredicates, 0, 0},
		{"entity attrs", datomic.Datom{E: user, A: aEntAttrs, V: datomic.Keyword("x/str")}, dcbackup.FeatureEntitySpecs, 0, 0},
		{"entity preds", datomic.Datom{E: user, A: aEntPreds, V: datomic.Symbol("x/ok?")}, dcbackup.FeatureEntitySpecs, 0, 0},
		{"entity in a partition", datomic.Datom{E: named, A: aStr, V: ""}, dcbackup.FeaturePartitions, 0, 0},
		{"ref to a partition", datomic.Datom{E: user, A: aRef, V: named}, dcbackup.FeaturePartitions, 0, 0},
		{"ref in a tuple", datomic.Datom{E: user, A: aRefTup, V: datomic.Tuple{user, named}}, dcbackup.FeaturePartitions, 0, 0},
		{"refs in default partitions", datomic.Datom{E: user, A: aRefTup, V: datomic.Tuple{user, int64(0), datomic.TxID(1)}}, 0, 0, 0},
	}
	for _, c := range cases {
		tx := datomic.TxID(10)
		d := c.datom
		d.Tx, d.Added = tx, true
		seg := &dcbackup.Segment{DB: "db", StartT: 10, EndT: 11, Attrs: attrs, Txs: []datomic.Tx{{T: 10, Datoms: []datomic.Datom{d}}}}
		enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{})
		require.NoError(t, err)
		data, err := enc.Encode(seg)
		require.NoError(t, err, c.name)
		h := enc.LastHeader()
		enc.Close()
		assert.Equal(t, c.want, h.Features, "%s: features %s", c.name, h.Features)
		assert.Equal(t, c.maxStr, h.MaxStringLen, c.name)
		assert.Equal(t, c.maxTup, h.MaxTupleStringLen, c.name)
		got, err := dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{})
		require.NoError(t, err, c.name)
		assert.Equal(t, h, got.Header)
	}
	assert.Equal(t, "bytes,functions,partitions", (dcbackup.FeatureBytes | dcbackup.FeatureFunctions | dcbackup.FeaturePartitions).String())
	assert.Equal(t, "", dcbackup.Features(0).String())
}

// TestSegmentRatioFallback: a payload that zstd would shrink beyond the
// ratio bound is stored uncompressed, so that readers accept it.
func TestSegmentRatioFallback(t *testing.T) {
	tx := datomic.TxID(10)
	seg := &dcbackup.Segment{DB: "db", StartT: 10, EndT: 11, Idents: map[int64]datomic.Keyword{},
		Attrs: map[int64]datomic.Attribute{100: {ID: 100, Ident: "x/str", ValueType: datomic.TypeString}},
		Txs:   []datomic.Tx{{T: 10, Datoms: []datomic.Datom{{E: 1, A: 100, V: strings.Repeat("a", 4<<20), Tx: tx, Added: true}}}}}
	enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{})
	require.NoError(t, err)
	defer enc.Close()
	data, err := enc.Encode(seg)
	require.NoError(t, err)
	assert.Equal(t, dcbackup.CompressionNone, enc.LastHeader().Compression)
	assert.Equal(t, byte(0), data[5])
	got, err := dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{})
	require.NoError(t, err)
	requireSameSegment(t, seg, got)

	// An ordinary segment is compressed.
	_, err = enc.Encode(genSegment(1, 20))
	require.NoError(t, err)
	assert.Equal(t, dcbackup.CompressionZstd, enc.LastHeader().Compression)
}

func TestDecodeSegmentHeader(t *testing.T) {
	seg := withV2Content(genSegment(5, 12))
	data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{})
	require.NoError(t, err)
	n, err := dcbackup.SegmentHeaderSize(data[:12])
	require.NoError(t, err)
	require.Less(t, n, dcbackup.SegmentHeadReadSize)
	h, err := dcbackup.DecodeSegmentHeader(data[:n], dcbackup.SegmentInfo{})
	require.NoError(t, err)
	assert.Equal(t, seg.DB, h.DB)
	assert.Equal(t, seg.Info(), dcbackup.SegmentInfo{StartT: h.StartT, EndT: h.EndT})

	// Too few bytes, another range, a listing size that says truncated.
	_, err = dcbackup.SegmentHeaderSize(data[:11])
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
	_, err = dcbackup.DecodeSegmentHeader(data[:n-1], dcbackup.SegmentInfo{})
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
	_, err = dcbackup.DecodeSegmentHeader(data[:n], dcbackup.SegmentInfo{StartT: seg.StartT, EndT: seg.EndT + 1})
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
	_, err = dcbackup.DecodeSegmentHeader(data[:n], dcbackup.SegmentInfo{StartT: seg.StartT, EndT: seg.EndT, Size: int64(len(data) - 1)})
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
	assert.Contains(t, err.Error(), "truncated")
	var se *dcbackup.SegmentError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, seg.DB, se.DB)
	// Every flip in the header is caught by the header's own checksum.
	for i := range n {
		bad := bytes.Clone(data[:n])
		bad[i] ^= 0x04
		_, err := dcbackup.DecodeSegmentHeader(bad, dcbackup.SegmentInfo{})
		require.Error(t, err, "flip at %d", i)
	}

	// Version 1: the frame only.
	v1, err := osReadFile(t, "testdata/segment-v1/gen-35-20-zstd.seg")
	require.NoError(t, err)
	n, err = dcbackup.SegmentHeaderSize(v1)
	require.NoError(t, err)
	assert.Equal(t, 16, n)
	h, err = dcbackup.DecodeSegmentHeader(v1[:n], dcbackup.SegmentInfo{})
	require.NoError(t, err)
	assert.Equal(t, 1, h.Version)
	assert.Equal(t, dcbackup.CompressionZstd, h.Compression)
	assert.Positive(t, h.RawLen)
}

// A damaged version byte is damage, not a newer format, also when only the
// header is read: the header's checksum matches with this version in its
// place. A segment written as a newer version is one.
func TestSegmentHeaderTellsDamagedVersionFromNewer(t *testing.T) {
	seg := withV2Content(genSegment(6, 12))
	data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{})
	require.NoError(t, err)
	for _, v := range []byte{3, 6, 0x82} {
		damaged := bytes.Clone(data)
		damaged[4] = v
		_, err := dcbackup.SegmentHeaderSize(damaged[:dcbackup.SegmentHeadReadSize])
		require.ErrorIs(t, err, dcbackup.ErrCorruptSegment, "version byte %d", v)
		require.NotErrorIs(t, err, dcbackup.ErrUnsupportedSegmentVersion)
		_, err = dcbackup.DecodeSegmentHeader(damaged, seg.Info())
		require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)

		newer := fixChecksums(bytes.Clone(damaged))
		_, err = dcbackup.SegmentHeaderSize(newer[:dcbackup.SegmentHeadReadSize])
		require.ErrorIs(t, err, dcbackup.ErrUnsupportedSegmentVersion, "version %d", v)
		_, err = dcbackup.DecodeSegment(newer, seg.Info(), dcbackup.DecodeOptions{})
		require.ErrorIs(t, err, dcbackup.ErrUnsupportedSegmentVersion)
	}
}
