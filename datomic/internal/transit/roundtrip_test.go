package transit

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// genValue builds a random value of the types Unmarshal produces.
func genValue(r *rand.Rand, depth int) any {
	n := 17
	if depth > 3 {
		n = 12 // scalars only
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		switch r.IntN(3) {
		case 0:
			return int64(r.IntN(2000) - 1000)
		case 1:
			return r.Int64() - r.Int64()
		}
		return int64(1<<53) + int64(r.IntN(3)) - 1
	case 3:
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
	case 4:
		return genString(r)
	case 5:
		return datomic.Keyword(genName(r))
	case 6:
		return datomic.Symbol(genName(r))
	case 7:
		b := new(big.Int).Lsh(big.NewInt(r.Int64()), uint(r.IntN(100)))
		if r.IntN(2) == 0 {
			b.Neg(b)
		}
		return b
	case 8:
		return datomic.BigDec{Unscaled: big.NewInt(r.Int64N(1e12) - 5e11), Scale: int32(r.IntN(20) - 5)}
	case 9:
		return time.UnixMilli(r.Int64N(4e12) - 1e12).UTC()
	case 10:
		var u datomic.UUID
		for i := range u {
			u[i] = byte(r.IntN(256))
		}
		return u
	case 11:
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		if r.IntN(2) == 0 {
			return datomic.URI("https://example.com/" + genName(r))
		}
		return b
	case 12:
		return genSlice(r, depth)
	case 13:
		return List(genSlice(r, depth))
	case 14:
		return Set(genSlice(r, depth))
	case 15:
		m := Map{}
		for i := range r.IntN(6) {
			var k any
			switch r.IntN(4) {
			case 0:
				k = datomic.Keyword(genName(r) + itoa(i))
			case 1:
				k = genString(r) + itoa(i)
			case 2:
				k = int64(i)
			default:
				k = genSlice(r, depth) // composite: forces a cmap
			}
			m = append(m, KV{k, genValue(r, depth+1)})
		}
		return m
	default:
		return datomic.Datom{E: r.Int64(), A: r.Int64N(200), V: genValue(r, 4), Tx: datomic.TxID(r.Int64N(1e9)), Added: r.IntN(2) == 0}
	}
}

func genSlice(r *rand.Rand, depth int) []any {
	out := make([]any, r.IntN(5))
	for i := range out {
		out[i] = genValue(r, depth+1)
	}
	return out
}

func genName(r *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyz-?*"
	var sb strings.Builder
	if r.IntN(2) == 0 {
		sb.WriteString("ns.x/")
	}
	for range 1 + r.IntN(8) {
		sb.WriteByte(letters[r.IntN(len(letters))])
	}
	return sb.String()
}

func genString(r *rand.Rand) string {
	parts := []string{"~", "^", "`", "^ ", "~#", "a", "\"", "\\", "\n", "\u00e9", "\U0001F600", "\x01", " ", "~:", "^0"}
	var sb strings.Builder
	for range r.IntN(6) {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	return sb.String()
}

func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		v := genValue(r, 0)
		enc, err := Marshal(v)
		require.NoError(t, err, "case %d: %#v", i, v)
		got, err := Unmarshal(enc)
		require.NoError(t, err, "case %d: %s", i, enc)
		if !same(v, got) {
			t.Fatalf("case %d: round trip changed the value\n in  %#v\n enc %s\n out %#v", i, v, enc, got)
		}
		// Writing the decoded value again gives the same bytes.
		enc2, err := Marshal(got)
		require.NoError(t, err)
		require.Equal(t, string(enc), string(enc2), "case %d", i)
	}
}

// TestCacheManyValues pushes the writer and reader caches through several
// rollovers with repeated keys.
func TestCacheManyValues(t *testing.T) {
	var xs []any
	for i := range 10000 {
		xs = append(xs, Map{{datomic.Keyword("k/" + itoa(i%3000)), datomic.Keyword("v/" + itoa(i%2500))}, {"key-" + itoa(i%100), int64(i)}})
	}
	enc, err := Marshal(xs)
	require.NoError(t, err)
	got, err := Unmarshal(enc)
	require.NoError(t, err)
	assert.True(t, same(xs, got))
}

func TestFloat32AndInts(t *testing.T) {
	enc, err := Marshal([]any{float32(0.1), 3, uint8(7), float64(2), int32(-5)})
	require.NoError(t, err)
	assert.Equal(t, `[0.1,3,7,2.0,-5]`, string(enc))
	got, err := Unmarshal(enc)
	require.NoError(t, err)
	assert.Equal(t, float32(0.1), float32(got.([]any)[0].(float64)))
}

func TestWriteGoMaps(t *testing.T) {
	enc, err := Marshal(map[datomic.Keyword]any{"b": 1, "a": datomic.Tuple{int64(1), "x"}})
	require.NoError(t, err)
	assert.Equal(t, `["^ ","~:a",[1,"x"],"~:b",1]`, string(enc))
	enc, err = Marshal(map[string]any{"z": nil, "y": true})
	require.NoError(t, err)
	assert.Equal(t, `["^ ","y",true,"z",null]`, string(enc))
	_, err = Marshal(struct{}{})
	assert.Error(t, err)
}

func TestBigDecNegativeScale(t *testing.T) {
	d := datomic.BigDec{Unscaled: big.NewInt(123), Scale: -2}
	enc, err := Marshal([]any{d})
	require.NoError(t, err)
	assert.Equal(t, `["~f123E+2"]`, string(enc))
	got, err := Unmarshal(enc)
	require.NoError(t, err)
	assert.True(t, d.Equal(got.([]any)[0].(datomic.BigDec)))
}

// TestBigDecExtremeScales: every int32 scale writes a short string that
// reads back with the same scale; a scale beyond int32 is refused.
func TestBigDecExtremeScales(t *testing.T) {
	for _, scale := range []int32{math.MinInt32, math.MinInt32 + 1, -1, 1, 1 << 24, math.MaxInt32} {
		d := datomic.BigDec{Unscaled: big.NewInt(-987), Scale: scale}
		enc, err := Marshal([]any{d})
		require.NoError(t, err)
		assert.Less(t, len(enc), 40, "%s", enc)
		got, err := Unmarshal(enc)
		require.NoError(t, err)
		assert.True(t, d.Equal(got.([]any)[0].(datomic.BigDec)), "%s", enc)
	}
	_, err := Unmarshal([]byte(`["~f1E-2147483648"]`))
	assert.Error(t, err, "scale 2^31")
}

func TestMalformed(t *testing.T) {
	good := `["^ ","~:data",[["~#datom",[1,2,"x",3,true]],["^1",[1,2,"y",3,false]]],"~:t",5]`
	_, err := Unmarshal([]byte(good))
	require.NoError(t, err)
	// Every proper prefix is an error, never a panic or a partial value.
	for i := range len(good) {
		_, err := Unmarshal([]byte(good[:i]))
		require.Error(t, err, "prefix %q", good[:i])
		assert.True(t, errors.Is(err, ErrMalformed), "prefix %q: %v", good[:i], err)
	}
	bad := []string{
		`["^5"]`,                         // unknown cache ref
		`["~#datom",[1,"a","v",3,true]]`, // attribute not an integer
		`["~#datom",[1,2]]`,
		`["~#set",5]`,
		`["~#cmap",[1]]`,
		`["~uNOTAUUID"]`,
		`["~m12x"]`,
		`["~bnot base64!"]`,
		`[1 2]`,
		`[1,]`,
		`{"a" 1}`,
		`"\x"`,
		`[1] [2]`,
		`nul`,
		`"~#tag"`,
		strings.Repeat("[", 1000) + strings.Repeat("]", 1000),
	}
	for _, b := range bad {
		_, err := Unmarshal([]byte(b))
		assert.ErrorIs(t, err, ErrMalformed, "input %q", b)
	}
}

func TestVerboseAndSurrogates(t *testing.T) {
	v, err := Unmarshal([]byte(`{"~:a":{"~#set":[1]},"b":"\ud83d\ude00\u00e9"}`))
	require.NoError(t, err)
	assertSame(t, Map{{datomic.Keyword("a"), Set{int64(1)}}, {"b", "\U0001F600\u00e9"}}, v)
}
