package edn

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// gen builds random EDN values from a fixed seed.
type gen struct{ r *rand.Rand }

const symStart = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ*!_?$%&=<>"
const symRest = symStart + "0123456789.+-'#:"

func (g gen) name() string {
	var b strings.Builder
	b.WriteByte(symStart[g.r.IntN(len(symStart))])
	for range g.r.IntN(8) {
		b.WriteByte(symRest[g.r.IntN(len(symRest))])
	}
	if g.r.IntN(4) == 0 {
		b.WriteString("é")
	}
	return b.String()
}

func (g gen) qualified() string {
	if g.r.IntN(2) == 0 {
		return g.name()
	}
	return g.name() + "/" + g.name()
}

func (g gen) str() string {
	pool := []rune{'a', 'Z', '0', ' ', '"', '\\', '\n', '\t', '\r', '\b', '\f', 0, 0x1f, 0x7f, 'é', '€', '😀', '\u2028', ';', ',', '#', '{'}
	var b strings.Builder
	for range g.r.IntN(12) {
		b.WriteRune(pool[g.r.IntN(len(pool))])
	}
	return b.String()
}

func (g gen) scalar() any {
	switch g.r.IntN(16) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2:
		return g.r.Int64() - math.MaxInt64/2
	case 3:
		return int64(g.r.IntN(200) - 100)
	case 4:
		b := new(big.Int).Lsh(big.NewInt(g.r.Int64()), uint(g.r.IntN(100)))
		if g.r.IntN(2) == 0 {
			b.Neg(b)
		}
		return b
	case 5:
		switch g.r.IntN(10) {
		case 0:
			return math.Inf(1)
		case 1:
			return math.Inf(-1)
		case 2:
			return math.NaN()
		case 3:
			return math.Float64frombits(g.r.Uint64())
		}
		return g.r.NormFloat64() * math.Pow(10, float64(g.r.IntN(40)-20))
	case 6:
		return datomic.BigDec{Unscaled: big.NewInt(g.r.Int64N(1e12) - 5e11), Scale: int32(g.r.IntN(30) - 10)}
	case 7:
		return g.str()
	case 8:
		for {
			r := rune(g.r.IntN(0x1FFFF))
			if r >= 0xD800 && r < 0xE000 && g.r.IntN(2) == 0 {
				return Char(r) // lone surrogates are valid EDN characters
			}
			if utf8.ValidRune(r) {
				return Char(r)
			}
		}
	case 9:
		return datomic.Keyword(g.qualified())
	case 10:
		s := g.qualified()
		switch s {
		case "nil", "true", "false":
			s = "x" + s
		}
		return datomic.Symbol(s)
	case 11:
		return time.Date(g.r.IntN(10000), time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28),
			g.r.IntN(24), g.r.IntN(60), g.r.IntN(60), g.r.IntN(1e9), time.UTC)
	case 12:
		var u datomic.UUID
		for i := range u {
			u[i] = byte(g.r.IntN(256))
		}
		return u
	case 13:
		return datomic.URI("http://example.com/" + g.name())
	case 14:
		return datomic.TempID("#db/id[:db.part/user -" + string(rune('1'+g.r.IntN(9))) + "]")
	}
	return datomic.Keyword("db/id")
}

func (g gen) value(depth int) any {
	if depth <= 0 || g.r.IntN(3) > 0 {
		return g.scalar()
	}
	n := g.r.IntN(5)
	items := func() []any {
		out := []any{}
		var seen keySet
		for len(out) < n {
			v := g.value(depth - 1)
			if seen.add(v) {
				out = append(out, v)
			}
		}
		return out
	}
	switch g.r.IntN(5) {
	case 0:
		return items()
	case 1:
		return List(items())
	case 2:
		return Set(items())
	case 3:
		keys := items()
		m := make(Map, len(keys))
		for i, k := range keys {
			m[i] = Entry{Key: k, Value: g.value(depth - 1)}
		}
		return m
	}
	return Tagged{Tag: datomic.Symbol("my/" + g.name()), Value: g.value(depth - 1)}
}

func TestRoundTrip(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for i := range 5000 {
		v := g.value(4)
		text, err := Marshal(v)
		require.NoError(t, err)
		back, err := Unmarshal(text)
		require.NoError(t, err, "case %d: %s", i, text)
		require.True(t, Equal(v, back), "case %d: %s\nwant %#v\ngot  %#v", i, text, v, back)
		text2, err := Marshal(back)
		require.NoError(t, err)
		require.Equal(t, string(text), string(text2))
	}
}

func TestRoundTripStream(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	var buf bytes.Buffer
	var want []any
	for range 300 {
		v := g.value(3)
		text, err := Marshal(v)
		require.NoError(t, err)
		buf.Write(text)
		buf.WriteString([]string{"\n", " ", ",", " ; comment\n", "\t#_ 1 "}[g.r.IntN(5)])
		want = append(want, v)
	}
	d := NewDecoder(&oneByteReader{buf.String()})
	for i, w := range want {
		v, err := d.Decode()
		require.NoError(t, err, i)
		require.True(t, Equal(w, v), "form %d: %#v vs %#v", i, w, v)
	}
	_, err := d.Decode()
	require.ErrorIs(t, err, errEOF())
}

func errEOF() error { _, err := NewDecoder(strings.NewReader("")).Decode(); return err }

func TestMarshalDatomicValues(t *testing.T) {
	text, err := Marshal(datomic.EntityMap{"b/c": datomic.Tuple{int64(1), nil}, "db/id": datomic.TempID("x"),
		"a/b": datomic.LookupRef{A: datomic.Keyword("u/id"), V: 3}, "f": float32(1.5)})
	require.NoError(t, err)
	assert.Equal(t, `{:db/id "x", :a/b [:u/id 3], :b/c [1 nil], :f 1.5}`, string(text))

	text, err = Marshal([]any{datomic.TempID("#db/id[:db.part/db]#4"), datomic.TxTempID, 1.0, math.Copysign(0, -1), 1e21,
		datomic.BigDec{Unscaled: big.NewInt(-5), Scale: 3}, datomic.BigDec{Unscaled: big.NewInt(15), Scale: -2}})
	require.NoError(t, err)
	assert.Equal(t, `[#db/id [:db.part/db] "datomic.tx" 1.0 -0.0 1e+21 -0.005M 15E2M]`, string(text))

	_, err = Marshal(struct{}{})
	assert.Error(t, err)
	_, err = Marshal([]any{make(chan int)})
	assert.Error(t, err)
}

func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{:a 1 :b [1 2 #{3}] "s" (x y)}`,
		`#:artist{:name "x" :gid #uuid "0005682c-3083-415e-ae4c-debd7be3e47e" :_/bare 1}`,
		`[{:db/id #db/id [:db.part/user -1] :x/y #inst "1970"} [:db/add "e" :a/b [:c/d "x"]]]`,
		`#db/fn {:lang "clojure" :code (-> x (+ 1))} \newline \u00e9 "\ud83d\ude00" 1.5M 12N ##NaN`,
		`; comment` + "\n" + `#_ #_ 1 2 3 [#_ x]`,
		`[1 2`, `"abc`, `#:a [1]`, `\o777`, `1e1234567890M`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	schema := testSchema()
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data))
		slow := NewDecoder(&oneByteReader{string(data)})
		for range 50 {
			v, err := d.Decode()
			v2, err2 := slow.Decode()
			if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
				t.Fatalf("buffering changes the result: %v vs %v", err, err2)
			}
			if err != nil {
				return
			}
			if !Equal(v, v2) {
				t.Fatalf("buffering changes the result: %#v vs %#v", v, v2)
			}
			text, err := Marshal(v)
			if err != nil {
				t.Fatalf("cannot print %#v: %v", v, err)
			}
			back, err := Unmarshal(text)
			if err != nil {
				t.Fatalf("cannot read back %s: %v", text, err)
			}
			text2, err := Marshal(back)
			if err != nil || !bytes.Equal(text, text2) {
				t.Fatalf("printing is not stable: %s vs %s (%v)", text, text2, err)
			}
			_, _ = ConvertTx(v, ConvertOptions{})
			_, _ = ConvertTx(v, ConvertOptions{Schema: schema})
		}
	})
}

// entityGen builds random transaction data in the shapes ConvertTx reads
// back unambiguously without a schema.
type entityGen struct{ gen }

// attr returns an attribute ident that is not a reverse one.
func (g entityGen) attr() datomic.Keyword { return datomic.Keyword(g.name() + "/a" + g.name()) }

func (g entityGen) scalar() any {
	switch g.r.IntN(9) {
	case 0:
		return g.str()
	case 1:
		return g.r.Int64()
	case 2:
		return datomic.Keyword(g.qualified())
	case 3:
		var u datomic.UUID
		for i := range u {
			u[i] = byte(g.r.IntN(256))
		}
		return u
	case 4:
		return time.UnixMilli(g.r.Int64N(1e13)).UTC()
	case 5:
		return g.r.NormFloat64()
	case 6:
		return g.r.IntN(2) == 0
	case 7:
		return datomic.BigDec{Unscaled: big.NewInt(g.r.Int64N(1e6)), Scale: int32(g.r.IntN(5))}
	}
	return new(big.Int).Lsh(big.NewInt(g.r.Int64N(1e6)+1), 70)
}

func (g entityGen) entity() any {
	switch g.r.IntN(5) {
	case 0:
		return g.r.Int64N(1 << 50)
	case 1:
		return datomic.TempID(g.name())
	case 2:
		return g.attr()
	case 3:
		return datomic.LookupRef{A: datomic.Keyword("u/a" + g.name()), V: g.str()}
	}
	return datomic.TxTempID
}

func (g entityGen) entityMap(depth int) datomic.EntityMap {
	m := datomic.EntityMap{}
	if g.r.IntN(2) == 0 {
		m[datomic.DBID] = g.entity()
	}
	for range 1 + g.r.IntN(5) {
		k := g.attr()
		switch g.r.IntN(6) {
		case 0:
			if depth > 0 {
				m[k] = g.entityMap(depth - 1)
				continue
			}
			m[k] = g.scalar()
		case 1:
			// Values of one type, more than two, never a lookup ref shape.
			first := g.scalar()
			vals := []any{first}
			for len(vals) < 3+g.r.IntN(3) {
				if v := g.scalar(); fmt.Sprintf("%T", v) == fmt.Sprintf("%T", first) {
					vals = append(vals, v)
				}
			}
			m[k] = vals
		case 2:
			m[k] = datomic.LookupRef{A: datomic.Keyword("u/a" + g.name()), V: int64(g.r.IntN(1000))}
		default:
			m[k] = g.scalar()
		}
	}
	return m
}

func TestConvertRoundTrip(t *testing.T) {
	g := entityGen{gen{rand.New(rand.NewPCG(5, 6))}}
	for i := range 2000 {
		var ops []datomic.Op
		var tx []any
		for range 1 + g.r.IntN(4) {
			switch g.r.IntN(4) {
			case 0:
				op := datomic.Add{E: g.entity(), A: g.attr(), V: g.scalar()}
				ops = append(ops, op)
				tx = append(tx, []any{datomic.Keyword("db/add"), op.E, op.A, op.V})
			case 1:
				op := datomic.RetractEntity{E: g.entity()}
				ops = append(ops, op)
				tx = append(tx, []any{datomic.Keyword("db/retractEntity"), op.E})
			default:
				m := g.entityMap(2)
				ops = append(ops, m)
				tx = append(tx, m)
			}
		}
		text, err := Marshal(tx)
		require.NoError(t, err)
		form, err := Unmarshal(text)
		require.NoError(t, err, "%s", text)
		got, err := ConvertTx(form, ConvertOptions{})
		require.NoError(t, err, "%s", text)
		require.Len(t, got, len(ops))
		for j := range ops {
			switch want := ops[j].(type) {
			case datomic.EntityMap:
				require.True(t, Equal(want, got[j]), "case %d op %d: %s\nwant %#v\ngot  %#v", i, j, text, want, got[j])
			case datomic.Add:
				g := got[j].(datomic.Add)
				require.True(t, Equal(want.E, g.E) && Equal(want.A, g.A) && Equal(want.V, g.V), "case %d op %d: %s", i, j, text)
			default:
				require.True(t, Equal(want.(datomic.RetractEntity).E, got[j].(datomic.RetractEntity).E), "case %d op %d: %s %#v", i, j, text, got[j])
			}
		}
	}
}
