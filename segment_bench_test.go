package dcbackup_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

// benchSegment returns a segment shaped like the MusicBrainz sample: entity
// maps of strings (names from a vocabulary), uuids, years and enum refs,
// one :db/txInstant per transaction, with about n datoms.
func benchSegment(n int) *dcbackup.Segment {
	r := rand.New(rand.NewPCG(42, 42))
	words := strings.Fields(`the of and a to in love night blue song live sun moon
		john paul george ringo black white red orchestra quartet band hits greatest
		best symphony no concerto minor major remastered edition deluxe vol part
		city river mountain road home heart rain fire dream star day summer winter`)
	name := func() string {
		k := 1 + r.IntN(4)
		parts := make([]string, k)
		for i := range parts {
			w := words[r.IntN(len(words))]
			parts[i] = strings.ToUpper(w[:1]) + w[1:]
		}
		return strings.Join(parts, " ")
	}
	attrs := map[int64]datomic.Attribute{
		50: {ID: 50, Ident: "db/txInstant", ValueType: datomic.TypeInstant, Cardinality: datomic.CardinalityOne},
		70: {ID: 70, Ident: "artist/name", ValueType: datomic.TypeString, Cardinality: datomic.CardinalityOne},
		71: {ID: 71, Ident: "artist/sortName", ValueType: datomic.TypeString, Cardinality: datomic.CardinalityOne},
		72: {ID: 72, Ident: "artist/gid", ValueType: datomic.TypeUUID, Cardinality: datomic.CardinalityOne, Unique: datomic.UniqueIdentity},
		73: {ID: 73, Ident: "artist/type", ValueType: datomic.TypeRef, Cardinality: datomic.CardinalityOne},
		74: {ID: 74, Ident: "artist/country", ValueType: datomic.TypeRef, Cardinality: datomic.CardinalityOne},
		75: {ID: 75, Ident: "artist/startYear", ValueType: datomic.TypeLong, Cardinality: datomic.CardinalityOne},
		76: {ID: 76, Ident: "artist/gender", ValueType: datomic.TypeRef, Cardinality: datomic.CardinalityOne},
		77: {ID: 77, Ident: "release/artists", ValueType: datomic.TypeRef, Cardinality: datomic.CardinalityMany},
	}
	enumBase := datomic.EntityID(datomic.PartUser, 1000)
	seg := &dcbackup.Segment{DB: "mbrainz", StartT: 1000, Attrs: attrs, Idents: map[int64]datomic.Keyword{50: "db/txInstant"}}
	t := int64(1000)
	e := datomic.EntityID(datomic.PartUser, 100000)
	inst := time.Date(2013, 5, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	total := 0
	for total < n {
		txID := datomic.TxID(t)
		inst += r.Int64N(2000)
		ds := []datomic.Datom{{E: txID, A: 50, V: time.UnixMilli(inst).UTC(), Tx: txID, Added: true}}
		for range 12 {
			e += 1 + int64(r.IntN(3))
			nm := name()
			var u datomic.UUID
			for i := range u {
				u[i] = byte(r.Uint32())
			}
			ds = append(ds,
				datomic.Datom{E: e, A: 70, V: nm, Tx: txID, Added: true},
				datomic.Datom{E: e, A: 71, V: nm, Tx: txID, Added: true},
				datomic.Datom{E: e, A: 72, V: u, Tx: txID, Added: true},
				datomic.Datom{E: e, A: 73, V: enumBase + int64(r.IntN(3)), Tx: txID, Added: true},
				datomic.Datom{E: e, A: 74, V: enumBase + 10 + int64(r.IntN(200)), Tx: txID, Added: true},
				datomic.Datom{E: e, A: 75, V: int64(1900 + r.IntN(120)), Tx: txID, Added: true},
			)
			if r.IntN(2) == 0 {
				ds = append(ds, datomic.Datom{E: e, A: 76, V: enumBase + 5 + int64(r.IntN(3)), Tx: txID, Added: true})
			}
			if r.IntN(4) == 0 {
				ds = append(ds, datomic.Datom{E: e - 1, A: 77, V: e - int64(r.IntN(50)), Tx: txID, Added: r.IntN(3) > 0})
			}
		}
		seg.Txs = append(seg.Txs, datomic.Tx{T: t, Datoms: ds})
		total += len(ds)
		t += 1 + int64(r.IntN(100))
	}
	seg.EndT = t
	return seg
}

const benchDatoms = 100_000

// benchCodecs are the encodings the codec benchmarks compare.
func benchCodecs(b *testing.B) []struct {
	name string
	enc  dcbackup.EncodeOptions
	dec  dcbackup.DecodeOptions
} {
	id, rec := testKey(b, testIdentityA)
	return []struct {
		name string
		enc  dcbackup.EncodeOptions
		dec  dcbackup.DecodeOptions
	}{
		{"zstd", dcbackup.EncodeOptions{}, dcbackup.DecodeOptions{}},
		{"none", dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone}, dcbackup.DecodeOptions{}},
		{"zstd+age", dcbackup.EncodeOptions{Recipients: []age.Recipient{rec}}, dcbackup.DecodeOptions{Identities: []age.Identity{id}}},
	}
}

func BenchmarkEncodeSegment(b *testing.B) {
	seg := benchSegment(benchDatoms)
	for _, c := range benchCodecs(b) {
		b.Run(c.name, func(b *testing.B) {
			enc, err := dcbackup.NewSegmentEncoder(c.enc)
			require.NoError(b, err)
			defer enc.Close()
			var size int
			b.ReportAllocs()
			for b.Loop() {
				data, err := enc.Encode(seg)
				if err != nil {
					b.Fatal(err)
				}
				size = len(data)
			}
			n := float64(seg.DatomCount())
			b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "datoms/s")
			b.ReportMetric(float64(size)/n, "bytes/datom")
		})
	}
}

func BenchmarkDecodeSegment(b *testing.B) {
	seg := benchSegment(benchDatoms)
	for _, c := range benchCodecs(b) {
		b.Run(c.name, func(b *testing.B) {
			data, err := dcbackup.EncodeSegment(seg, c.enc)
			require.NoError(b, err)
			dec, err := dcbackup.NewSegmentDecoder(c.dec)
			require.NoError(b, err)
			defer dec.Close()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dec.Decode(data, seg.Info()); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(seg.DatomCount())
			b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "datoms/s")
			b.ReportMetric(float64(len(data))/n, "bytes/datom")
		})
	}
}
