package dcbackup_test

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

// Attribute ids of the generated segments.
const (
	genIdent       = 10
	genTxInstant   = 50
	genFirstUser   = 100
	genCompositeID = 200
)

// genAttrs returns one attribute per value type (and per kind of tuple),
// plus :db/ident and :db/txInstant.
func genAttrs() map[int64]datomic.Attribute {
	attrs := map[int64]datomic.Attribute{
		genIdent:     {ID: genIdent, Ident: "db/ident", ValueType: datomic.TypeKeyword, Cardinality: datomic.CardinalityOne, Unique: datomic.UniqueIdentity},
		genTxInstant: {ID: genTxInstant, Ident: "db/txInstant", ValueType: datomic.TypeInstant, Cardinality: datomic.CardinalityOne, Index: true},
	}
	id := int64(genFirstUser)
	for _, vt := range datomic.ValueTypes() {
		if vt == datomic.TypeTuple {
			continue
		}
		card := datomic.CardinalityOne
		if id%2 == 0 {
			card = datomic.CardinalityMany
		}
		attrs[id] = datomic.Attribute{ID: id, Ident: datomic.Keyword("gen/" + vt.Ident().Name()), ValueType: vt, Cardinality: card,
			NoHistory: id%3 == 0, IsComponent: vt == datomic.TypeRef, Fulltext: vt == datomic.TypeString}
		id++
	}
	attrs[id] = datomic.Attribute{ID: id, Ident: "gen/homtuple", ValueType: datomic.TypeTuple, Cardinality: datomic.CardinalityOne, TupleType: datomic.TypeLong}
	attrs[id+1] = datomic.Attribute{ID: id + 1, Ident: "gen/hettuple", ValueType: datomic.TypeTuple, Cardinality: datomic.CardinalityOne,
		TupleTypes: []datomic.ValueType{datomic.TypeRef, datomic.TypeString, datomic.TypeInstant, datomic.TypeBigDec}, Unique: datomic.UniqueValue}
	attrs[genCompositeID] = datomic.Attribute{ID: genCompositeID, Ident: "gen/composite", ValueType: datomic.TypeTuple, Cardinality: datomic.CardinalityOne,
		TupleAttrs: []datomic.Keyword{"gen/ref", "gen/string"}, Unique: datomic.UniqueIdentity}
	// An attribute with an id beyond the encoder's dense table.
	attrs[1<<42+7] = datomic.Attribute{ID: 1<<42 + 7, Ident: "gen/far", ValueType: datomic.TypeLong, Cardinality: datomic.CardinalityOne}
	return attrs
}

// genValue returns a random value of type vt, favouring edge cases.
func genValue(r *rand.Rand, a datomic.Attribute, attrs map[int64]datomic.Attribute) any {
	switch a.ValueType {
	case datomic.TypeTuple:
		var t datomic.Tuple
		switch {
		case a.TupleType != datomic.TypeInvalid:
			t = make(datomic.Tuple, r.IntN(9))
			for i := range t {
				t[i] = genPlain(r, a.TupleType)
			}
		case len(a.TupleTypes) > 0:
			t = make(datomic.Tuple, len(a.TupleTypes))
			for i, vt := range a.TupleTypes {
				if r.IntN(5) > 0 {
					t[i] = genPlain(r, vt)
				}
			}
		default:
			t = make(datomic.Tuple, len(a.TupleAttrs))
			for i := range t {
				if r.IntN(4) > 0 {
					t[i] = genPlain(r, datomic.ValueTypes()[r.IntN(14)])
				}
			}
		}
		return t
	}
	return genPlain(r, a.ValueType)
}

func genInt(r *rand.Rand) int64 {
	switch r.IntN(6) {
	case 0:
		return []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 127, 128, -64, -65}[r.IntN(9)]
	case 1:
		return int64(r.Uint64())
	default:
		return r.Int64N(100000) - 50000
	}
}

func genString(r *rand.Rand) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz ABC/éü日本\x00"
	rs := []rune(alphabet)
	n := r.IntN(30)
	if r.IntN(50) == 0 {
		n = 1000 + r.IntN(5000)
	}
	b := make([]rune, n)
	for i := range b {
		b[i] = rs[r.IntN(len(rs))]
	}
	return string(b)
}

func genBig(r *rand.Rand) *big.Int {
	x := new(big.Int).Lsh(big.NewInt(r.Int64()), uint(r.IntN(200)))
	if r.IntN(2) == 0 {
		x.Neg(x)
	}
	if r.IntN(8) == 0 {
		x.SetInt64(0)
	}
	return x
}

func genPlain(r *rand.Rand, vt datomic.ValueType) any {
	switch vt {
	case datomic.TypeRef:
		return datomic.EntityID(int64(r.IntN(5)), r.Int64N(1<<30))
	case datomic.TypeLong:
		return genInt(r)
	case datomic.TypeKeyword:
		return datomic.Keyword("ns" + fmt.Sprint(r.IntN(10)) + "/" + genString(r))
	case datomic.TypeSymbol:
		return datomic.Symbol(genString(r))
	case datomic.TypeString:
		return genString(r)
	case datomic.TypeBoolean:
		return r.IntN(2) == 0
	case datomic.TypeBigInt:
		return genBig(r)
	case datomic.TypeFloat:
		return []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), r.Float32() * 1e6, -r.Float32()}[r.IntN(6)]
	case datomic.TypeDouble:
		return []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(-1), math.MaxFloat64, r.NormFloat64() * 1e12}[r.IntN(6)]
	case datomic.TypeBigDec:
		return datomic.BigDec{Unscaled: genBig(r), Scale: int32(r.IntN(40) - 10)}
	case datomic.TypeInstant:
		return time.UnixMilli(r.Int64N(4e12) - 1e12).UTC()
	case datomic.TypeUUID:
		var u datomic.UUID
		for i := range u {
			u[i] = byte(r.Uint32())
		}
		return u
	case datomic.TypeURI:
		return datomic.URI("https://example.com/" + genString(r))
	case datomic.TypeBytes:
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if r.IntN(10) == 0 {
			return []byte{}
		}
		return b
	}
	panic(fmt.Sprintf("no generator for %s", vt))
}

// genSegment returns a random segment of about txs transactions with every
// value type, deterministic in seed.
func genSegment(seed uint64, txs int) *dcbackup.Segment {
	r := rand.New(rand.NewPCG(seed, 0x5e9))
	attrs := genAttrs()
	ids := make([]int64, 0, len(attrs))
	for id := range attrs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	start := r.Int64N(1 << 40)
	seg := &dcbackup.Segment{
		Version: dcbackup.SegmentFormatVersion,
		DB:      "gen-" + fmt.Sprint(seed),
		StartT:  start,
		Attrs:   attrs,
		Idents:  map[int64]datomic.Keyword{0: "db.part/db", 10: "db/ident", 35: "db.cardinality/one", 50: "db/txInstant"},
	}
	t := start + r.Int64N(3)
	inst := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	e := datomic.EntityID(datomic.PartUser, r.Int64N(1<<30))
	for range txs {
		tx := datomic.Tx{T: t}
		txID := datomic.TxID(t)
		inst += r.Int64N(100000)
		tx.Datoms = append(tx.Datoms, datomic.Datom{E: txID, A: genTxInstant, V: time.UnixMilli(inst).UTC(), Tx: txID, Added: true})
		for range r.IntN(40) {
			switch r.IntN(10) {
			case 0:
				e = datomic.EntityID(int64(r.IntN(8)), r.Int64N(1<<42))
			case 1, 2, 3:
				e += int64(r.IntN(5))
			case 4:
				e = txID
			}
			a := attrs[ids[r.IntN(len(ids))]]
			tx.Datoms = append(tx.Datoms, datomic.Datom{E: e, A: a.ID, V: genValue(r, a, attrs), Tx: txID, Added: r.IntN(5) > 0})
		}
		seg.Txs = append(seg.Txs, tx)
		t += 1 + r.Int64N(1000)*int64(r.IntN(2))
	}
	seg.EndT = t + r.Int64N(10)
	return seg
}

// requireSameSegment checks that got reproduces want exactly: the same Go
// types, values (float bits, bigdec scale) and dictionaries.
func requireSameSegment(t *testing.T, want, got *dcbackup.Segment) {
	t.Helper()
	require.Contains(t, []int{1, dcbackup.SegmentFormatVersion}, got.Version)
	require.Equal(t, want.DB, got.DB)
	require.Equal(t, want.StartT, got.StartT)
	require.Equal(t, want.EndT, got.EndT)
	require.Equal(t, want.Attrs, got.Attrs)
	require.Equal(t, want.Idents, got.Idents)
	if got.HasLinks() {
		require.Equal(t, len(want.Renames), len(got.Renames))
		if len(want.Renames) > 0 {
			require.Equal(t, want.Renames, got.Renames)
		}
		require.Equal(t, want.Lineage.Fingerprint(), got.Lineage.Fingerprint())
		require.Equal(t, want.Lineage.DatabaseID, got.Lineage.DatabaseID)
		require.Equal(t, want.Lineage.GenesisT, got.Lineage.GenesisT)
		require.True(t, want.Lineage.GenesisInstant.Equal(got.Lineage.GenesisInstant))
		prev := want.Prev
		if prev == (dcbackup.TxLink{}) {
			prev = dcbackup.NoTx
		}
		require.Equal(t, prev, got.Prev)
		require.Equal(t, got.Header.Prev, got.Prev)
		require.Equal(t, got.Header.Last, got.Last)
	} else {
		require.Equal(t, 1, got.Version)
		require.Empty(t, got.Renames)
		require.Zero(t, got.Lineage)
	}
	require.Len(t, got.Txs, len(want.Txs))
	for i, wtx := range want.Txs {
		gtx := got.Txs[i]
		require.Equal(t, wtx.T, gtx.T, "tx %d", i)
		require.Len(t, gtx.Datoms, len(wtx.Datoms), "tx %d", i)
		for j, wd := range wtx.Datoms {
			gd := gtx.Datoms[j]
			if wd.E != gd.E || wd.A != gd.A || wd.Tx != gd.Tx || wd.Added != gd.Added {
				t.Fatalf("tx %d datom %d: got %s, want %s", i, j, gd, wd)
			}
			if why := sameValue(wd.V, gd.V); why != "" {
				t.Fatalf("tx %d datom %d %s: %s", i, j, wd, why)
			}
		}
	}
}

// sameValue returns "" when got reproduces want exactly (Go type, float
// bits, bigdec scale, UTC instants), else what differs.
func sameValue(want, got any) string {
	if reflect.TypeOf(want) != reflect.TypeOf(got) {
		return fmt.Sprintf("Go type %T, want %T", got, want)
	}
	differ := func() string {
		return fmt.Sprintf("got %s, want %s", datomic.FormatValue(got), datomic.FormatValue(want))
	}
	switch w := want.(type) {
	case float32:
		if math.Float32bits(w) != math.Float32bits(got.(float32)) {
			return differ()
		}
	case float64:
		if math.Float64bits(w) != math.Float64bits(got.(float64)) {
			return differ()
		}
	case time.Time:
		g := got.(time.Time)
		if !w.Equal(g) || g.Location() != time.UTC {
			return differ()
		}
	case datomic.Tuple:
		g := got.(datomic.Tuple)
		if len(g) != len(w) {
			return differ()
		}
		for i := range w {
			if why := sameValue(w[i], g[i]); why != "" {
				return fmt.Sprintf("element %d: %s", i, why)
			}
		}
	default:
		if !datomic.ValuesEqual(want, got) {
			return differ()
		}
	}
	return ""
}
